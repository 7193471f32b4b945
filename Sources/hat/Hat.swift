import ArgumentParser
import COpenBLAS
import Foundation
import Gravity
import HATConfig
import Output
import Parallel
import Runs
import Storage

struct Hat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hat",
        abstract: "Heterogeneous-agent trade (Waugh 2023) equilibria on MPI.",
        discussion: """
        Run as a single process (`hat solve CONFIG`) or under a launcher (`mpirun -np P hat solve CONFIG`,
        `srun --mpi=pmix hat solve CONFIG`). Results do not depend on the number of ranks.
        Exit codes: 0 success, 2 bad input, 3 not converged, 4 I/O or checkpoint failure, 75 stopped by
        SIGTERM/SIGUSR1 after a checkpoint (continue with --resume), 1 anything else.
        """,
        version: hatVersion,
        subcommands: [Solve.self, Calibrate.self, Sweep.self, Counterfactual.self, Policy.self, Planner.self, FirmsCommand.self, Inspect.self, GravityCommand.self, Bench.self, KeysCommand.self])
}

/// Print one line on standard error, from the first rank only (configuration errors happen before MPI
/// starts, on every rank alike).
func reportError(_ message: String) {
    if MPIEnvironment.launcherRank == 0 {
        Console.error("error: \(message)")
    }
}

/// End a command that wrote (or kept) its results: exit 0 by returning, 3 or 75 by ending the process.
func finish(_ end: RunEnd) { finish(exitCode: end.exitCode) }

/// The same for a command that computes its own exit code (a sweep: the worst of its points).
func finish(exitCode code: Int32) {
    guard code != 0 else { return }
    MPIEnvironment.finalize()
    exit(code)
}

/// The argument parser's message without the help and usage lines it may append. A value the user typed
/// can itself hold a newline (`--experiment $'x\ny'`): it stays in the message, which `reportError` then
/// prints on one line with the newline escaped.
func parserMessage(_ message: String) -> String {
    var kept: [Substring] = []
    for line in message.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("Help:") || line.hasPrefix("Usage:") || (line.isEmpty && !kept.isEmpty) { break }
        kept.append(line)
    }
    let text = kept.joined(separator: "\n")
    return text.isEmpty ? "invalid arguments" : text
}

func fail(_ message: String, code: Int32) -> Never {
    reportError(message)
    if HDF5File.leftBrokenFile {
        // A failed write left HDF5 with a half-closed file that it would crash on at MPI_Finalize.
        fflush(stdout); fflush(stderr)
        _exit(code)
    }
    MPIEnvironment.finalize()
    exit(code)
}

@main
enum Main {
    static func main() {
        // One BLAS thread per rank, before any LAPACK call (the gravity regression runs while the configuration
        // is read): a thread count that depends on the launcher's core binding would change summation order.
        openblas_set_num_threads(1)
        // Past a file-size limit (ulimit -f) a write should fail with EFBIG and become exit code 4 with a
        // message, not end the process by SIGXFSZ with a half-written file.
        signal(SIGXFSZ, SIG_IGN)
        SignalCleanup.install()
        do {
            var command = try Hat.parseAsRoot()
            try command.run()
        } catch let error as HatFailure {
            fail(error.message, code: error.code)
        } catch let error as ConfigError {
            fail(error.description, code: HatExit.badInput)
        } catch let error as DataError {
            fail(error.description, code: HatExit.badInput)
        } catch let error as OutputError {
            fail("writing \(error.description)", code: HatExit.io)
        } catch {
            let code = Hat.exitCode(for: error)
            if code == .success {               // --help, --version
                Hat.exit(withError: error)
            }
            if code == .validationFailure || error is ValidationError {
                reportError(parserMessage(Hat.message(for: error)))
                exit(HatExit.badInput)
            }
            fail("\(error)", code: code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}
