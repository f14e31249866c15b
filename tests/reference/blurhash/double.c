/*
 * The reference encoder with every float a double and every single-precision function its
 * double one: the same arithmetic in the same order at the precision the Python encoder uses.
 * The system headers come first, so that the macros reach only the reference's own code.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define float double
#define cosf cos
#define powf pow
#define fabsf fabs
#define fmaxf fmax
#define fminf fmin
#define floorf floor
#define copysignf copysign

#include "encode.c"
