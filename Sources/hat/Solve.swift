import ArgumentParser
import Foundation
import Output
import Parallel
import Runs

struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Solve the world equilibrium of a configuration.",
        discussion: """
        Writes summary.json and solution.h5 into the output folder, together or not at all; logs one line per
        solver iteration on standard error. One run at a time per output folder (.hat.lock).
        """)

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Write a checkpoint after every solver iteration into this folder; SIGTERM or SIGUSR1 then stop at the next iteration after a checkpoint (exit 75).", valueName: "dir"))
    var checkpointDir: String?

    @Flag(help: "Start from the newest valid checkpoint in --checkpoint-dir (same configuration).")
    var resume = false

    func validate() throws {
        if resume && checkpointDir == nil { throw ValidationError("--resume needs --checkpoint-dir DIR") }
    }

    func run() throws {
        let started = Date()
        // With checkpoints, a stop at any moment is honoured at the first safe point (exit 75).
        if checkpointDir != nil { StopSignal.install() }
        if options.isFirmWorld {
            if checkpointDir != nil { throw ValidationError("--checkpoint-dir: a firm world solves in milliseconds and has no checkpoints") }
            let loaded = try options.loadFirmWorld()
            let comm = MPIEnvironment.world()
            finish(try FirmSolveJob(loaded: loaded, communicator: comm, log: commandLogger(comm)).run(started: started))
            return
        }
        // Validate everything before MPI starts: a bad input costs nothing and writes nothing.
        let loaded = try options.load()
        let comm = MPIEnvironment.world()
        let log = commandLogger(comm)
        let job = SolveJob(loaded: loaded, checkpointDirectory: checkpointDir, resume: resume, communicator: comm, log: log)
        finish(try job.run(started: started))
    }
}
