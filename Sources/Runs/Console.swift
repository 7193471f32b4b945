import Foundation
import HATConfig
import Parallel

/// Standard error and output without exceptions. `FileHandle.write` raises an Objective-C style exception,
/// which ends a Swift process with SIGILL, when the descriptor is closed or the device is full; a run
/// whose log cannot be written must still do its work and write its outputs.
public enum Console {
    /// One line on standard error (control characters from user input, e.g. a newline in a folder name,
    /// escaped); failures are ignored (there is nowhere left to report them).
    public static func error(_ line: String) {
        fputs(escapedForOneLine(line) + "\n", stderr)
        fflush(stderr)
    }

    /// Whether everything printed to standard output reached it (false when it is closed or full).
    public static func flushOutput() -> Bool {
        fflush(stdout) == 0 && ferror(stdout) == 0
    }
}

/// The log of a command: lines prefixed "hat: " on standard error, from the root rank of `comm`.
public func commandLogger(_ comm: Communicator) -> Logger {
    Logger(communicator: comm, prefix: "hat: ", sink: { Console.error($0) })
}
