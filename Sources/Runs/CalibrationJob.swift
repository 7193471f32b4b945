import Calibration
import Equilibrium
import Foundation
import Gravity
import HATConfig
import HATModel
import Output
import Parallel
import Solvers

/// One calibration into one output folder on one communicator: `hat calibrate`, and every calibration of a
/// sweep point (on its rank group). Problems end it with a `HatFailure` (or a `ConfigError` for the
/// configuration) instead of ending the process, so that a sweep can record a failed point and go on.
public struct CalibrationJob {
    public enum ResumeMode: Sendable {
        /// Refuse a folder that already holds checkpoints (`hat calibrate`).
        case never
        /// Continue from the newest valid checkpoint; none is an error (`hat calibrate --resume`).
        case required
        /// Continue if there are checkpoints, else start (sweep points, which resume by themselves).
        case ifCheckpointed
    }

    public struct Finished {
        public var run: CalibrationRun
        public var outcome: CalibrationOutcome
    }

    public let loaded: LoadedConfiguration
    public let resume: ResumeMode
    public let groups: Int
    public let communicator: Communicator
    public let log: Logger
    /// What the log says after a stop.
    public var resumeHint = "continue with --resume"

    public init(loaded: LoadedConfiguration, resume: ResumeMode, groups: Int, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.resume = resume; self.groups = groups; self.communicator = communicator; self.log = log
    }

    public func run(started: Date) throws -> Finished {
        let cfg = loaded.configuration
        let comm = communicator
        // A world built from data first, then the closure (the order the messages have always come in).
        guard let probe = CalibrationProblem(configuration: cfg) else {
            throw ConfigError(file: cfg.source(of: "world.data_dir"), key: "world.data_dir",
                              problem: "hat calibrate needs a world built from data: set [world] data_dir and parameters")
        }
        guard case let .fixedRate(rate) = cfg.equilibrium.closure else {
            throw ConfigError(file: cfg.source(of: "equilibrium.closure"), key: "equilibrium.closure",
                              problem: "hat calibrate solves wages and beta at a fixed R: set closure = \"fixed-rate\" (got \"\(cfg.equilibrium.closure.kind.rawValue)\")")
        }
        let startKey = CalibrationProblem.startKey(cfg.calibration)
        guard probe.world(at: probe.theta0) != nil else {
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
        if refusal.isEmpty { (refusal, _) = try RunChecks.checkResources(cfg, comm: comm) }
        if refusal.isEmpty { refusal = RunChecks.checkFeasibility(cfg, income: IncomeProcess(cfg.model.income)) }
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
