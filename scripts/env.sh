# Sourced by the scripts: OpenMPI refuses to run as root unless told, and more ranks than cores needs
# oversubscription (tests run 3 ranks on 2 cores). BLAS stays single-threaded under MPI.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
