import ArgumentParser
import Calibration
import Equilibrium
import Foundation
import Gravity
import HATConfig
import HATModel
import Output
import Parallel
import Solvers

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

    @Flag(help: "Continue from the newest valid checkpoint in OUT/checkpoints.")
    var resume = false

    @Flag(help: "Continue from the newest valid checkpoint if OUT/checkpoints has one, else start (for job scripts that restart).")
    var resumeIfCheckpointed = false

    @Option(help: "Rank groups that compute Jacobian columns side by side (1 ... ranks).")
    var groups = 1

    func validate() throws {
        guard groups >= 1 else { throw ValidationError("--groups must be >= 1 (got \(groups))") }
        guard !(resume && resumeIfCheckpointed) else { throw ValidationError("give --resume or --resume-if-checkpointed, not both") }
    }

    func run() throws {
        let started = Date()
        // A stop may come at any moment, even while the configuration is read: it is honoured at the first
        // safe point (after the start checkpoint) instead of ending the process without one.
        StopSignal.install()
        let loaded = try options.load()
        let comm = MPIEnvironment.world()
        let log = Logger(communicator: comm, prefix: "hat: ", sink: { Console.error($0) })
        let job = CalibrationJob(loaded: loaded, resume: resume ? .required : resumeIfCheckpointed ? .ifCheckpointed : .never, groups: groups,
                                 communicator: comm, log: log)
        let finished = try job.run(started: started)
        switch finished.outcome.status {
        case .stopped:
            MPIEnvironment.finalize()
            Foundation.exit(HatExit.stopped)
        case .notConverged:
            MPIEnvironment.finalize()
            Foundation.exit(HatExit.notConverged)
        case .converged:
            break
        }
    }
}

/// One calibration into one output folder on one communicator: `hat calibrate`, and every calibration of a
/// sweep point (on its rank group). Problems end it with a `HatFailure` (or a `ConfigError` for the
/// configuration) instead of ending the process, so that a sweep can record a failed point and go on.
struct CalibrationJob {
    enum ResumeMode {
        /// Refuse a folder that already holds checkpoints (`hat calibrate`).
        case never
        /// Continue from the newest valid checkpoint; none is an error (`hat calibrate --resume`).
        case required
        /// Continue if there are checkpoints, else start (sweep points, which resume by themselves).
        case ifCheckpointed
    }

    struct Finished {
        var run: CalibrationRun
        var outcome: CalibrationOutcome
    }

    let loaded: ConfigurationOptions.Loaded
    let resume: ResumeMode
    let groups: Int
    let communicator: Communicator
    let log: Logger
    /// What the log says after a stop.
    var resumeHint = "continue with --resume"

    func run(started: Date) throws -> Finished {
        let cfg = loaded.configuration
        let comm = communicator
        guard let source = cfg.dataWorld else {
            throw ConfigError(file: cfg.source(of: "world.data_dir"), key: "world.data_dir",
                              problem: "hat calibrate needs a world built from data: set [world] data_dir and parameters")
        }
        guard case let .fixedRate(rate) = cfg.equilibrium.closure else {
            throw ConfigError(file: cfg.source(of: "equilibrium.closure"), key: "equilibrium.closure",
                              problem: "hat calibrate solves wages and beta at a fixed R: set closure = \"fixed-rate\" (got \"\(cfg.equilibrium.closure.kind.rawValue)\")")
        }
        let theta0 = cfg.calibration.start ?? source.parameters.vector
        let startKey = cfg.calibration.start == nil ? "world.parameters" : "calibration.start"
        let probe = CalibrationProblem(dataWorld: source.world, tariffs: cfg.world.tariffs, model: cfg.model,
                                       equilibrium: cfg.equilibrium, tolerance: cfg.calibration.tolerance,
                                       maxIterations: cfg.calibration.maxIterations, jacobianStep: cfg.calibration.jacobianStep,
                                       checkpointEverySeconds: cfg.calibration.checkpointEverySeconds, theta0: theta0)
        guard probe.world(at: theta0) != nil else {
            throw ConfigError(file: cfg.source(of: startKey), key: startKey,
                              problem: "the start vector gives a TFP or trade cost that is not a finite positive number")
        }
        if groups > comm.size {
            throw HatFailure("--groups \(groups) needs at least \(groups) ranks (running on \(comm.size))", code: HatExit.badInput)
        }

        // Output folder, lock, checkpoints (root), agreed by every rank.
        let checkpoints = cfg.outputDirectory + "/checkpoints"
        var folder: RunFolder?
        var refusal = ""
        var refusalCode = HatExit.badInput
        var chosen = ""
        var createdCheckpoints = false
        if comm.isRoot {
            do {
                let f = try RunFolder.prepare(cfg.outputDirectory, file: loaded.folderFile, key: loaded.folderKey)
                folder = f
                try f.lock(file: loaded.folderFile, key: loaded.folderKey)
                f.recover()
                try f.checkTargets(CalibrationOutput.names, file: loaded.folderFile, key: loaded.folderKey)
                if mkdir(checkpoints, 0o755) == 0 {
                    createdCheckpoints = true
                } else if errno != EEXIST {
                    throw OutputError(path: checkpoints, problem: "cannot create: \(String(cString: strerror(errno)))")
                }
                let existing = CheckpointStore.candidates(in: checkpoints)
                switch resume {
                case .required:
                    (chosen, refusal, refusalCode) = chooseCheckpoint(existing, cfg: cfg, folder: checkpoints)
                case .ifCheckpointed where !existing.isEmpty:
                    (chosen, refusal, refusalCode) = chooseCheckpoint(existing, cfg: cfg, folder: checkpoints)
                case .ifCheckpointed:
                    break
                case .never where !existing.isEmpty:
                    refusal = "\(cfg.outputDirectory) already holds the checkpoints of a calibration (\(checkpoints)); continue it with --resume, or choose another --out"
                case .never:
                    break
                }
            } catch let e as OutputError {
                refusal = "\(e)"; refusalCode = HatExit.io
            } catch {
                refusal = "\(error)"
            }
        }
        var code = [Int64(refusalCode)]
        try comm.broadcast(&refusal)
        try comm.broadcast(&code)
        if refusal.isEmpty { (refusal, _) = try Solve.checkResources(cfg, comm: comm) }
        if refusal.isEmpty { refusal = Solve.checkFeasibility(cfg, income: IncomeProcess(cfg.model.income)) }
        if !refusal.isEmpty {
            folder?.unlock()
            if createdCheckpoints { rmdir(checkpoints) } // made by this run, and still empty (a user's own stays)
            folder?.abandon()                            // only the folders this run created, if empty
            throw HatFailure(refusal, code: Int32(code[0]))
        }
        try comm.broadcast(&chosen)

        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let run = try CalibrationRun(problem: probe, communicator: comm, groups: groups, log: log)
        var store = CheckpointStore(directory: checkpoints, keep: cfg.calibration.keepCheckpoints,
                                    configurationText: cfg.text, effectiveValues: cfg.effectiveValues, runID: runID,
                                    groups: groups)
        let faults = FaultInjection(rank: comm.rank)
        store.faultPoint = faults.hit
        run.faultPoint = faults.hit
        run.writeCheckpoint = { [store] progress in try store.write(progress, run: run) }

        var progress: CalibrationProgress?
        if !chosen.isEmpty {
            do {
                let p = try CheckpointStore.readProgress(chosen)
                let owned = try CheckpointStore.readSolutions(chosen, countries: run.evaluator.owned) ?? [:]
                try run.restore(last: p.last, owned: owned)
                progress = p
            } catch {
                folder?.unlock()
                throw HatFailure("reading checkpoint \(chosen): \(error)", code: HatExit.io)
            }
            log("resuming from \(chosen) (\(progress!.phase), \(progress!.outerIterations) outer iterations, \(String(format: "%.1f", progress!.elapsed)) s so far)")
        }
        log("calibration: \(probe.parameterCount) parameters, \(probe.countries) countries, \(comm.size) rank(s) in \(groups) group(s), R = \(rate), tolerance \(probe.tolerance), jacobian step \(probe.jacobianStep)")

        let outcome: CalibrationOutcome
        do {
            outcome = try run.run(resuming: progress)
        } catch let error as OutputError {
            folder?.unlock()
            throw HatFailure("writing \(error.description)", code: HatExit.io)
        } catch {
            if let failure = error as? CollectiveFailure, failure.agreed {
                folder?.unlock()
                throw HatFailure("\(error)", code: failure.message.contains("checkpoint not written") ? HatExit.io : 1)
            }
            Console.error("error: \(comm.isRoot ? "" : "rank \(comm.rank): ")\(error)")
            comm.abort(code: 1)
        }
        if outcome.status == .stopped {
            folder?.unlock()
            log("stopped: checkpoint \(checkpoints)/\(CheckpointStore.name(sequence: outcome.progress.sequence)); \(resumeHint)")
            return Finished(run: run, outcome: outcome)
        }
        try writeOutputs(cfg, run: run, outcome: outcome, folder: folder, comm: comm, runID: runID,
                         resumedFrom: chosen.isEmpty ? nil : (chosen as NSString).lastPathComponent,
                         started: started, hash: store.configurationHash)
        folder?.unlock()
        let gap = run.last.map { normInf($0.gap) } ?? .nan
        log(String(format: "%@: max-abs moment gap %.3e after %d outer iterations, %d jacobians, %d world evaluations; wrote %@",
                   outcome.status == .converged ? "converged" : "NOT converged (\(outcome.reason.message))", gap,
                   outcome.progress.outerIterations, outcome.progress.jacobians, outcome.progress.worldEvaluations,
                   cfg.outputDirectory))
        return Finished(run: run, outcome: outcome)
    }

    /// The newest valid checkpoint (root): corrupted or truncated ones are reported and skipped; one from a
    /// different configuration is refused (exit 2); none valid is exit 4. Returns (path, refusal, code).
    func chooseCheckpoint(_ existing: [String], cfg: RunConfiguration, folder: String) -> (String, String, Int32) {
        var problems: [String] = []
        let store = CheckpointStore(directory: folder, keep: 1, configurationText: cfg.text,
                                    effectiveValues: cfg.effectiveValues, runID: "", groups: 1)
        for path in existing {
            do {
                let header = try CheckpointStore.verify(path)
                if let d = store.firstDifference(from: header, ignoring: CalibrationSettings.resumableKeys) {
                    let file = cfg.source(of: d.key)
                    return ("", ConfigError(file: file, key: d.key, problem: "differs from the checkpoint \(path) being resumed (\(d.there) there, \(d.here) here); resume with the configuration that wrote it, or start a new calibration in another folder").description, HatExit.badInput)
                }
                for p in problems { log("skipping checkpoint \(p)") }
                return (path, "", 0)
            } catch {
                problems.append("\(error)")
            }
        }
        let why = problems.isEmpty ? "there are none" : problems.joined(separator: "; ")
        return ("", "--resume: no valid checkpoint in \(folder) (\(why))", HatExit.io)
    }

    func writeOutputs(_ cfg: RunConfiguration, run: CalibrationRun, outcome: CalibrationOutcome, folder: RunFolder?,
                      comm: Communicator, runID: String, resumedFrom: String?, started: Date, hash: String) throws {
        let dir = cfg.outputDirectory
        let names = CalibrationOutput.names
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in names { folder.track(name) } }
        var problem = ""
        if let result = run.lastResult, let world = run.problem.world(at: run.last!.theta) {
            var solved = cfg
            solved.world = world
            do {
                if !run.workspacesHoldLast {
                    // The outputs describe the last moment evaluation: evaluate it again (cold, at the
                    // reporting tolerance, as its reporting evaluation was) into the workspaces.
                    try run.evaluator.update(world: world, model: cfg.model)
                    var options = cfg.equilibrium.evaluation
                    options.householdTolerance = cfg.equilibrium.reportingHouseholdTolerance
                    options.warmStart = false
                    _ = try run.evaluator.evaluate(prices: result.prices, options: options)
                }
                let gravity = try? run.problem.dataWorld.compare(tradeShares: result.report.tradeShares)
                try writeSolution(path: staged("calibration.h5"), config: solved, result: result, evaluator: run.evaluator,
                                  gravity: gravity, runID: runID) { file in
                    try CalibrationOutput.writeHistory(file, run: run, outcome: outcome, configurationHash: hash)
                }
            } catch {
                problem = "\(error)"
            }
        } else {
            problem = "no solved equilibrium to write (the inner equilibrium failed at the start vector)"
        }
        try commitStagedOutputs(names, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "the checkpoints are kept") {
            let json = CalibrationOutput.json(config: cfg, run: run, outcome: outcome, resumedFrom: resumedFrom,
                                              wallSeconds: Date().timeIntervalSince(started), runID: runID,
                                              configurationHash: hash)
            try writeDurably(json.rendered() + "\n", to: staged("calibration.json"))
            try writeDurably(CalibrationOutput.guessFile(outcome.theta), to: staged("parameters.csv"))
            try writeDurably(CalibrationOutput.guessFile(CalibrationOutput.wageGuess(result: run.lastResult!)),
                             to: staged("wage-guess.csv"))
        }
    }
}

/// Kill tests: `HAT_FAULT=NAME:K` sends SIGKILL to rank 0 the K-th time the process passes the point NAME
/// ("inner", "jacobian-batch", "boundary", "checkpoint-verified", "checkpoint-renamed"). A real SIGKILL at
/// a chosen moment, for the resume tests; unset, it does nothing.
final class FaultInjection {
    let target: (name: String, count: Int)?
    /// Counted over the process, so that a sweep point's later calibrations (ψ̃ steps) can be hit too.
    nonisolated(unsafe) static var hits = 0
    let rank: Int

    init(rank: Int) {
        self.rank = rank
        let spec = ProcessInfo.processInfo.environment["HAT_FAULT"] ?? ""
        let parts = spec.split(separator: ":")
        target = parts.count == 2 ? (String(parts[0]), Int(parts[1]) ?? 1) : nil
    }

    func hit(_ name: String) {
        guard rank == 0, let target, target.name == name else { return }
        FaultInjection.hits += 1
        if FaultInjection.hits == target.count { kill(getpid(), SIGKILL) }
    }
}
