// OpenMPI handles are macros over globals of incomplete type, which Swift cannot import.
// These accessors expose them under their C names (PLATFORM-NOTES.md).
#ifndef HAT_CMPI_SHIM_H
#define HAT_CMPI_SHIM_H
#include <mpi.h>

#define HAT_MPI_GETTER(T, NAME) \
    static inline T _Nonnull hat_##NAME(void) __attribute__((swift_name("getter:" #NAME "()"))); \
    static inline T _Nonnull hat_##NAME(void) { return NAME; }

HAT_MPI_GETTER(MPI_Comm, MPI_COMM_WORLD)
HAT_MPI_GETTER(MPI_Datatype, MPI_DOUBLE)
HAT_MPI_GETTER(MPI_Datatype, MPI_INT)
HAT_MPI_GETTER(MPI_Datatype, MPI_LONG_LONG)
HAT_MPI_GETTER(MPI_Datatype, MPI_CHAR)
HAT_MPI_GETTER(MPI_Datatype, MPI_BYTE)
HAT_MPI_GETTER(MPI_Op, MPI_MAX)
HAT_MPI_GETTER(MPI_Op, MPI_MIN)
HAT_MPI_GETTER(MPI_Op, MPI_SUM)
HAT_MPI_GETTER(MPI_Info, MPI_INFO_NULL)

static inline MPI_Comm hat_MPI_COMM_NULL(void) __attribute__((swift_name("getter:MPI_COMM_NULL()")));
static inline MPI_Comm hat_MPI_COMM_NULL(void) { return MPI_COMM_NULL; }
static inline void * _Nonnull hat_MPI_IN_PLACE(void) __attribute__((swift_name("getter:MPI_IN_PLACE()")));
static inline void * _Nonnull hat_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
#endif
