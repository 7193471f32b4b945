// CBLAS from OpenBLAS and LAPACKE (Debian: liblapacke-dev, whose liblapack is OpenBLAS).
#ifndef HAT_COPENBLAS_SHIM_H
#define HAT_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
