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
    ///
    /// The mask holds back signals for this thread only; a process-directed signal may still run the
    /// handler on another thread (MPI's progress threads, Foundation's). While `body` runs, the handler
    /// therefore only records the signal, and it takes effect here once `body` is done.
    public static func holdTermination(_ body: () -> Void) {
        var set = sigset_t(), old = sigset_t()
        sigemptyset(&set)
        for sig in signals + [SIGUSR2, SIGQUIT] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, &old)
        holding.pointee = 1
        body()
        holding.pointee = 0
        let deferred = pending.pointee
        pending.pointee = 0
        if deferred != 0 { signalCleanupHandler(Int32(deferred)) }
        pthread_sigmask(SIG_SETMASK, &old, nil)
    }

    nonisolated(unsafe) static var testPointPasses = 0

    static let holding: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1); p.initialize(to: 0); return p
    }()
    static let pending: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1); p.initialize(to: 0); return p
    }()

    /// Tests of signals at a chosen moment: `HAT_SIGNAL_AT=POINT:TERM` (or `:KILL`) sends that signal to the
    /// process when it passes POINT ("commit-journal-staged": the journal written under its temporary
    /// name; "commit-journal": the journal renamed into place, no output renamed
    /// yet; "commit-renamed": the first output renamed; "solve-checkpoint-written": a `hat solve` checkpoint
    /// written under its temporary name, not yet renamed). SIGTERM is sent from a new thread, so that it
    /// arrives where a real `kill` would: on any thread that does not hold it back.
    /// `POINT:SIGNAL:K` signals the K-th time instead of the first.
    public static func testPoint(_ name: String) {
        guard let spec = ProcessInfo.processInfo.environment["HAT_SIGNAL_AT"] else { return }
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3, parts[0] == name else { return }
        testPointPasses += 1
        guard testPointPasses == (parts.count == 3 ? Int(parts[2]) ?? 1 : 1) else { return }
        if parts[1] == "KILL" { kill(getpid(), SIGKILL); return }
        guard parts[1] == "TERM" else { return }
        var thread = pthread_t()
        pthread_create(&thread, nil, { _ in kill(getpid(), SIGTERM); return nil }, nil)
        pthread_join(thread, nil)
    }
}

private func removeRegistered() {
    let slots = SignalCleanup.slots
    for i in 0..<SignalCleanup.capacity {
        if let p = slots[i] { unlink(p) }
    }
}

private func signalCleanupHandler(_ sig: Int32) {
    // A commit in progress on another thread: let it finish (it re-raises the signal when done).
    if SignalCleanup.holding.pointee != 0 {
        SignalCleanup.pending.pointee = sig_atomic_t(sig)
        return
    }
    removeRegistered()
    let ending = sig == SIGUSR1 ? SIGTERM : sig
    signal(ending, SIG_DFL)
    raise(ending)
}
