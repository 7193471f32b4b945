// HDF5's H5T_NATIVE_*, H5P_* and H5F_ACC_* are function-call macros or globals that Swift cannot
// import (or imports with the wrong type); expose them under their C names (PLATFORM-NOTES.md).
#ifndef HAT_CHDF5_SHIM_H
#define HAT_CHDF5_SHIM_H
#include <hdf5.h>

#define HAT_H5_GETTER(T, NAME) \
    static inline T hat_##NAME(void) __attribute__((swift_name("getter:" #NAME "()"))); \
    static inline T hat_##NAME(void) { return NAME; }

HAT_H5_GETTER(hid_t, H5T_NATIVE_DOUBLE)
HAT_H5_GETTER(hid_t, H5T_NATIVE_INT64)
HAT_H5_GETTER(hid_t, H5T_NATIVE_INT32)
HAT_H5_GETTER(hid_t, H5T_C_S1)
HAT_H5_GETTER(hid_t, H5P_FILE_ACCESS)
HAT_H5_GETTER(hid_t, H5P_FILE_CREATE)
HAT_H5_GETTER(hid_t, H5P_DATASET_XFER)
HAT_H5_GETTER(hid_t, H5P_LINK_CREATE)
HAT_H5_GETTER(hid_t, H5P_DEFAULT)
HAT_H5_GETTER(unsigned, H5F_ACC_TRUNC)
HAT_H5_GETTER(unsigned, H5F_ACC_RDONLY)
HAT_H5_GETTER(unsigned, H5F_ACC_RDWR)
HAT_H5_GETTER(unsigned, H5F_ACC_EXCL)
#endif
