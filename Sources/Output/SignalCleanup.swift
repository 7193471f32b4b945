import Foundation
import Parallel

/// Files to remove if the process is ended by SIGTERM, SIGINT, SIGHUP or SIGUSR1 (a run's temporaries and
/// its lock file), so a stopped run leaves nothing half-written behind. The handler only calls `unlink` on
/// preallocated C strings (async-signal-safe), then re-raises the signal with its default action so the
/// exit status still says what ended the process. SIGUSR1 is what SLURM's `--signal` sends before a time
/// limit: where no polite stop is possible (no checkpoints) it ends the run exactly as SIGTERM does.
public enum SignalCleanup {
    static let capacity = 32
    static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    static let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]
    private static let installed: Bool = {
        _ = slots
        // Signals that `StopSignal` turned into a polite stop stay with it (the run cleans up itself).
        for sig in signals where !StopSignal.handles(sig) { signal(sig, signalCleanupHandler) }
        // Every exit path (an error after the lock was taken, exit codes 2-4) leaves nothing behind either.
        atexit { removeRegistered() }
        return true
    }()

    /// Take over the termination signals now (every command calls this first, so that a signal that
    /// arrives before the first file is registered still ends the process as documented).
    public static func install() { _ = installed }

    /// Remove `path` if the process is terminated by a signal before `unregister(path)`.
    public static func register(_ path: String) {
        _ = installed
        for i in 0..<capacity where slots[i] == nil {
            slots[i] = strdup(path)
            return
        }
    }

    /// Forget `path`. The string is not freed: a handler running on another thread may still hold it
    /// (a few bytes per output file, once per run).
    public static func unregister(_ path: String) {
        for i in 0..<capacity {
            if let p = slots[i], strcmp(p, path) == 0 { slots[i] = nil }
        }
    }

    /// Run `body` with the termination signals held back (delivered right after), so a sequence of renames
    /// is not cut in the middle by a polite kill.
    public static func holdTermination(_ body: () -> Void) {
        var set = sigset_t(), old = sigset_t()
        sigemptyset(&set)
        for sig in signals + [SIGUSR2, SIGQUIT] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, &old)
        body()
        pthread_sigmask(SIG_SETMASK, &old, nil)
    }
}

private func removeRegistered() {
    let slots = SignalCleanup.slots
    for i in 0..<SignalCleanup.capacity {
        if let p = slots[i] { unlink(p) }
    }
}

private func signalCleanupHandler(_ sig: Int32) {
    removeRegistered()
    let ending = sig == SIGUSR1 ? SIGTERM : sig
    signal(ending, SIG_DFL)
    raise(ending)
}
