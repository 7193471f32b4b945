# Sourced by calibrate.sbatch and sweep.sbatch (not a job script): run one hat command that checkpoints,
# and carry it across the wall-clock limit.
#   run_requeueable ARGS...
# runs `hat ARGS...` under the launcher (LAUNCHER=srun: `srun --mpi=pmix`, the default; LAUNCHER=mpirun) in
# the background, forwards SLURM's warning signal (USR1, asked for with #SBATCH --signal=B:USR1@SECONDS) to
# it, and when hat stopped at a checkpoint (exit 75) requeues the job (`scontrol requeue`, which needs
# #SBATCH --requeue) so that it goes on from there. Any other exit (0 done, 2 bad input, 3 not converged,
# 4 I/O, ...) ends the job with that code and no requeue.
run_requeueable() {
  local hat=${HAT:-.build/release/hat} launcher rc
  echo "$(date -Is) job ${SLURM_JOB_ID:-?} (array task ${SLURM_ARRAY_TASK_ID:--}) restart ${SLURM_RESTART_COUNT:-0}: hat $*"
  if [ "${LAUNCHER:-srun}" = mpirun ]; then
    mpirun -np "${SLURM_NTASKS:-1}" "$hat" "$@" &
  else
    srun --mpi=pmix "$hat" "$@" &
  fi
  launcher=$!
  local started=$SECONDS
  # Bash runs a trap only while it waits, so the work runs in the background. srun and mpirun forward USR1
  # to every rank; hat agrees on the stop at its next safe point, writes a checkpoint and exits 75. SLURM
  # may send the warning up to a minute early, even right at the start: the signal is passed on no sooner
  # than 5 s after the launch, when the ranks have installed their handler (USR1 would end them before).
  trap 'echo "$(date -Is) USR1: asking hat to checkpoint and stop"
        early=$(( 5 - (SECONDS - started) )); [ "$early" -gt 0 ] && sleep "$early"
        kill -USR1 "$launcher" 2>/dev/null' USR1
  rc=0
  while true; do
    wait "$launcher"; rc=$?
    kill -0 "$launcher" 2>/dev/null || break      # wait returned for the trap: wait again
  done
  trap - USR1
  case $rc in
    0)  echo "$(date -Is) hat $1 finished" ;;
    75) echo "$(date -Is) stopped at a checkpoint: requeueing"
        # Should the requeue itself fail, end with 75 (not 0): SLURM must not count unfinished work as done.
        scontrol requeue "${SLURM_JOB_ID}" || { echo "$(date -Is) scontrol requeue failed: resubmit to go on" >&2; exit 75; }
        exit 0 ;;
    *)  echo "$(date -Is) hat $1 exited $rc: not requeueing" ;;
  esac
  return "$rc"
}
