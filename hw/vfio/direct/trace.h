#include "trace/trace-hw_vfio_direct.h"
