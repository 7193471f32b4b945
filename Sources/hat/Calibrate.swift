import ArgumentParser
import Foundation
import Parallel
import Runs

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gravity-as-a-guide calibration: the 46 trade-cost/TFP parameters whose model gravity moments match the data's.",
        discussion: """
        Needs a world built from data ([world] data_dir and parameters) and the fixed-rate closure (wages and
        beta are solved at R = equilibrium.fixed_rate at every parameter vector). Writes calibration.json,
        calibration.h5, parameters.csv and wage-guess.csv into the output folder, and checkpoints into
        checkpoints/ after every outer iteration (and inside a Jacobian every
        calibration.checkpoint_every_seconds). SIGTERM or SIGUSR1 stops at the next safe point after a
        checkpoint with exit code 75; --resume continues from the newest valid checkpoint, on any number of
        ranks and groups, to the same bits.
        Progress goes to standard error: a line per outer iteration, and inside a long inner equilibrium or
        Jacobian at most one line every 5 seconds (HAT_PROGRESS_SECONDS sets the interval, 0 prints every
        line; HAT_INNER_LOG=1 prints every line of the inner solves).
        Exit codes: 0 converged, 2 bad input, 3 not converged, 4 I/O or no valid checkpoint, 75 stopped.
        """)

    @OptionGroup var options: ConfigurationOptions

    /// `--resume` or `--resume-if-checkpointed` (at most one); neither: a folder with checkpoints is refused.
    enum ResumeFlag: EnumerableFlag {
        case resume
        case resumeIfCheckpointed

        static func help(for value: ResumeFlag) -> ArgumentHelp? {
            switch value {
            case .resume: return "Continue from the newest valid checkpoint in OUT/checkpoints."
            case .resumeIfCheckpointed: return "Continue from the newest valid checkpoint if OUT/checkpoints has one, else start (for job scripts that restart)."
            }
        }

        var mode: CalibrationJob.ResumeMode {
            switch self {
            case .resume: return .required
            case .resumeIfCheckpointed: return .ifCheckpointed
            }
        }
    }

    @Flag var resume: ResumeFlag?

    @Option(help: "Rank groups that compute Jacobian columns side by side (1 ... ranks).")
    var groups = 1

    func validate() throws {
        guard groups >= 1 else { throw ValidationError("--groups must be >= 1 (got \(groups))") }
    }

    func run() throws {
        let started = Date()
        // A stop may come at any moment, even while the configuration is read: it is honoured at the first
        // safe point (after the start checkpoint) instead of ending the process without one.
        StopSignal.install()
        if options.isFirmWorld {
            let loaded = try options.loadFirmWorld()
            let comm = MPIEnvironment.world()
            finish(try FirmCalibrationJob(loaded: loaded, communicator: comm, log: commandLogger(comm)).run(started: started))
            return
        }
        let loaded = try options.load()
        let comm = MPIEnvironment.world()
        let log = commandLogger(comm)
        let job = CalibrationJob(loaded: loaded, resume: resume?.mode ?? .never, groups: groups,
                                 communicator: comm, log: log)
        let finished = try job.run(started: started)
        switch finished.outcome.status {
        case .stopped: finish(.stopped)
        case .notConverged: finish(.notConverged)
        case .converged: break
        }
    }
}
