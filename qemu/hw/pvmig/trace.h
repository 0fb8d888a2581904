#include "trace/trace-hw_pvmig.h"
