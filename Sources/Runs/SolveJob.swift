import Analysis
import Equilibrium
import Foundation
import Gravity
import HATConfig
import HATModel
import Output
import Parallel

/// `hat solve`: one equilibrium into one output folder (summary.json and solution.h5, together or not at
/// all), with optional checkpoints after every iteration and a resume from them.
public struct SolveJob {
    public static let outputs = ["solution.h5", "summary.json"]

    public let loaded: LoadedConfiguration
    /// `--checkpoint-dir`: a checkpoint after every solver iteration, and polite stops.
    public let checkpointDirectory: String?
    /// `--resume`: start from the newest valid checkpoint in `checkpointDirectory`.
    public let resume: Bool
    public let communicator: Communicator
    public let log: Logger

    public init(loaded: LoadedConfiguration, checkpointDirectory: String?, resume: Bool, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.checkpointDirectory = checkpointDirectory; self.resume = resume
        self.communicator = communicator; self.log = log
    }

    /// Solve and write the outputs (collective). Refusals and failures are thrown as `HatFailure`s with
    /// their exit codes, after removing the folders this run made.
    public func run(started: Date) throws -> RunEnd {
        var cfg = loaded.configuration
        let folderFile = loaded.folderFile, folderKey = loaded.folderKey
        let comm = communicator, checkpointDir = checkpointDirectory

        // Preflight on the root, agreed by every rank: output folder and lock, resources, feasibility.
        var (folder, refusal) = try prepareOutputFolder(cfg.outputDirectory, outputs: SolveJob.outputs, file: folderFile,
                                                        key: folderKey, comm: comm)
        var estimateLine = ""
        if refusal.isEmpty { (refusal, estimateLine) = try RunChecks.checkResources(cfg, comm: comm) }
        var income: IncomeProcess?
        if refusal.isEmpty {
            income = IncomeProcess(cfg.model.income)
            refusal = RunChecks.checkFeasibility(cfg, income: income!)
        }
        if !refusal.isEmpty {
            folder?.abandon()
            throw HatFailure(refusal, code: HatExit.badInput)
        }

        var checkpointCounter: CheckpointCounter?
        if let dir = checkpointDir {
            (cfg, refusal, checkpointCounter) = try prepareCheckpoints(cfg, directory: dir, comm: comm, log: log)
            if !refusal.isEmpty {
                folder?.abandon()
                throw HatFailure(refusal, code: refusal.hasPrefix("--resume") ? HatExit.io : HatExit.badInput)
            }
        }

        log(estimateLine)
        log("\(cfg.world.count) countries, closure \(cfg.equilibrium.closure.kind.rawValue), \(comm.size) rank(s), N_a \(cfg.model.assetPoints), S \(cfg.model.income.persistentStates * cfg.model.income.transitoryStates)")
        let evaluator = try WorldEvaluator(world: cfg.world, model: cfg.model, communicator: comm, income: income,
                                           gridBlocks: cfg.gridBlocks, balancing: cfg.loadBalance)
        log("layout (grid_blocks \(cfg.gridBlocks.rawValue)): " + evaluator.layoutDescription())
        let result: EquilibriumResult
        do {
            result = try solveEquilibrium(evaluator: evaluator, options: cfg.equilibrium, log: log)
        } catch {
            // A failure every rank agreed on (through the collective driver) ends each rank on its own, the
            // first rank printing it once. Anything else may have happened on this rank alone: print it and
            // end every rank, so that none is left waiting in a collective.
            if let failure = error as? CollectiveFailure, failure.agreed { throw HatFailure("\(error)", code: 1) }
            Console.error("error: \(comm.isRoot ? "" : "rank \(comm.rank): ")\(error)")
            comm.abort(code: 1)
        }
        if result.reason == .interrupted {
            folder?.unlock()
            var failure = checkpointCounter?.writeFailure ?? ""
            try comm.broadcast(&failure)
            if !failure.isEmpty {
                folder?.abandon()
                if let made = checkpointCounter?.createdDirectory { rmdir(made) }
                throw HatFailure(checkpointCounter?.stoppedForFailure == true
                     ? "checkpoint not written into \(checkpointDir ?? ""): \(failure); the solve stopped and wrote no outputs"
                     : "stopped by SIGTERM/SIGUSR1, but the last checkpoint could not be written into \(checkpointDir ?? ""): \(failure)",
                     code: HatExit.io)
            }
            log("stopped by SIGTERM/SIGUSR1 after iteration \(result.iterations): checkpoint in \(checkpointDir ?? ""); continue with --resume")
            return .stopped
        }
        let peakMemory = try comm.allGatherV([peakResidentMemoryMiB()])
        log("peak memory per rank (MiB): " + peakMemory.map { String(format: "%.0f", $0) }.joined(separator: " "))
        log(String(format: "load imbalance %.1f %% (max rank load / mean − 1, measured cost: household iterations × grid size)%@; layout: %@",
                   100 * evaluator.layout.imbalance(costs: evaluator.costs), evaluator.relaidOut ? ", laid out again after the first evaluation" : "",
                   evaluator.layoutDescription()))
        if result.report.failed {
            log("the reporting evaluation failed: " + result.report.failureSummary(names: cfg.world.names))
        }
        // The market residuals can meet their tolerance while an inner solve hit its iteration cap (e.g. a
        // tolerance below what doubles resolve): say so (summary.json has household_converged per country).
        let unconverged = zip(cfg.world.names, result.report.countries)
            .filter { !$0.1.failed && (!$0.1.household.converged || !$0.1.distribution.converged) }.map(\.0)
        if !unconverged.isEmpty {
            log("warning: in the reporting evaluation the household or distribution iteration of " + unconverged.joined(separator: ", ")
                + " stopped at its iteration limit before its tolerance (see household_converged, distribution_converged)")
        }
        // Gravity moments of the model next to the data's (computed identically on every rank).
        var gravity: GravityComparison?
        if !result.report.failed {
            do { gravity = try cfg.dataWorld?.world.compare(tradeShares: result.report.tradeShares) } catch {
                log("gravity regression on the model's trade shares failed: \(error)")
            }
        }
        if let gravity { log(String(format: "gravity: max |model - data| over the 46 moments = %.3e", gravity.maxAbsGap)) }
        // The supply side's own conditions at the equilibrium (e.g. interior firm cutoffs): computed alike on
        // every rank, so every rank stops together when one fails, before anything is written.
        if result.converged && !result.report.failed,
           let extra = cfg.world.supply.report(world: cfg.world, prices: result.prices, spending: result.report.tradeFlows) {
            for note in extra.notes { log(note) }
            if let bad = extra.failedConditions.first {
                folder?.abandon()
                throw ConfigError(file: cfg.path, key: bad.key, problem: bad.problem)
            }
        }

        // [analysis]: the analysed country's household at the reported equilibrium (collective).
        var analysis: HouseholdAnalysis?
        var analysisProblem = ""
        if let settings = cfg.analysis {
            if result.report.failed {
                analysisProblem = "the reporting evaluation failed"
            } else {
                do { analysis = try HouseholdAnalysis.run(settings, evaluator: evaluator, prices: result.prices, log: log) } catch {
                    analysisProblem = "\(error)"
                }
            }
            if !analysisProblem.isEmpty { log("analysis not computed: \(analysisProblem)") }
        }

        try writeOutputs(cfg, result: result, evaluator: evaluator, gravity: gravity, analysis: analysis,
                         analysisProblem: analysisProblem, folder: folder, comm: comm,
                         started: started, peakMemory: peakMemory)
        folder?.unlock()
        log(String(format: "%@: R = %@, residual %.3e, wrote %@", result.converged ? "converged" : "NOT converged",
                   result.prices.rates.map { String($0) }.joined(separator: " "), result.residualMax, cfg.outputDirectory))
        return result.converged ? .converged : .notConverged
    }

    /// `--checkpoint-dir`: polite stops, a checkpoint after every iteration (root), and with `--resume` the
    /// start from the newest valid checkpoint. Collective; returns the configuration to solve and a refusal.
    func prepareCheckpoints(_ config: RunConfiguration, directory: String, comm: Communicator,
                            log: Logger) throws -> (RunConfiguration, String, CheckpointCounter) {
        var cfg = config
        cfg.equilibrium.stopOnSignal = true
        var refusal = ""
        var start: [Double] = []
        var createdDirectory = false
        if comm.isRoot {
            do {
                var isDir: ObjCBool = false
                if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
                    if resume { throw OutputError(path: directory, problem: "--resume: no such folder") }
                    guard mkdir(directory, 0o755) == 0 else {
                        throw ConfigError(file: "--checkpoint-dir", key: "", problem: "cannot create \(directory): \(String(cString: strerror(errno)))")
                    }
                    createdDirectory = true
                } else if !isDir.boolValue || access(directory, W_OK) != 0 {
                    throw ConfigError(file: "--checkpoint-dir", key: "", problem: "\(directory) is not a writable folder")
                }
                SolveCheckpoint.removeStaleTemporaries(in: directory)
                if resume {
                    guard let (found, skipped) = try SolveCheckpoint.newest(in: directory, config: cfg, ignoring: ["output.dir", "equilibrium.max_iterations"]) else {
                        throw OutputError(path: directory, problem: "--resume: no valid solve checkpoint")
                    }
                    for s in skipped { log("skipping checkpoint \(s)") }
                    log("resuming from \(found.path) (iteration \(found.iteration), strategy \(found.strategy))")
                    start = found.unknowns
                }
            } catch let e as OutputError {
                refusal = e.problem.hasPrefix("--resume") ? "--resume: no valid solve checkpoint in \(directory)" : "\(e)"
            } catch {
                refusal = "\(error)"
            }
        }
        try comm.broadcast(&refusal)
        var count = [Int64(start.count)]
        try comm.broadcast(&count)
        if !comm.isRoot { start = [Double](repeating: 0, count: Int(count[0])) }
        try comm.broadcast(&start)
        if !start.isEmpty { cfg.equilibrium.start.unknowns = start }
        let names = cfg.equilibrium.closure.unknownNames(countries: cfg.world.names)
        let counter = CheckpointCounter(comm.isRoot ? (SolveCheckpoint.newestSequence(in: directory) ?? 0) : 0)
        counter.createdDirectory = createdDirectory ? directory : nil
        let frozen = cfg
        cfg.equilibrium.onIteration = { x, f, iteration, strategy in
            do {
                try SolveCheckpoint.write(directory: directory, sequence: counter.next(), unknowns: x, unknownNames: names,
                                          residuals: f, iteration: iteration, strategy: strategy, config: frozen)
                counter.writeFailure = nil
            } catch {
                // A run that was asked for checkpoints and cannot write them stops (exit 4) rather than go
                // on for hours with nothing to resume from.
                counter.writeFailure = "\(error)"
                if StopSignal.received == 0 { counter.stoppedForFailure = true }
                StopSignal.request()
            }
        }
        return (cfg, refusal, counter)
    }

    /// Stage solution.h5 (collectively) and summary.json (root), agree on success over every rank, then
    /// commit both at once. Any failure: one message, nothing committed, exit 4 on every rank.
    func writeOutputs(_ cfg: RunConfiguration, result: EquilibriumResult, evaluator: WorldEvaluator,
                      gravity: GravityComparison?, analysis: HouseholdAnalysis?, analysisProblem: String,
                      folder: RunFolder?, comm: Communicator, started: Date, peakMemory: [Double]) throws {
        let names = SolveJob.outputs
        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let dir = cfg.outputDirectory
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in names { folder.track(name) } }
        var problem = ""
        if let folder {
            // solution.h5: four household arrays per country, the distribution, and a margin for the rest.
            let m = Double(cfg.world.count), states = Double(cfg.model.assetPoints * evaluator.income.count)
            do { try folder.checkSpace(bytes: (4 * m * m * states + m * states) * 8 * 1.05 + 4 * 1048576) } catch {
                problem = "\(error)"
            }
        }
        try comm.broadcast(&problem)
        if problem.isEmpty { do {
            try writeSolution(path: staged("solution.h5"), config: cfg, result: result, evaluator: evaluator,
                              gravity: gravity, runID: runID) { file in
                if let analysis { try writeAnalysis(analysis, names: cfg.world.names, to: file) }
            }
        } catch {
            problem = "\(error)"
        } }
        try commitStagedOutputs(names, folder: folder, comm: comm, directory: dir, localProblem: problem,
                                note: "earlier outputs there are unchanged") {
            let loads = evaluator.layout.loads(costs: evaluator.costs)
            let total = loads.reduce(0, +)
            let analysisFields: JSON? = analysis.map { analysisJSON($0, names: cfg.world.names) }
                ?? (analysisProblem.isEmpty ? nil : .object([("error", .string(analysisProblem))]))
            let fields = SolveSummaryFields(gridBlocks: cfg.gridBlocks.rawValue, layout: evaluator.layoutDescription(),
                                            loadImbalance: evaluator.layout.imbalance(costs: evaluator.costs),
                                            rankLoads: loads.map { total > 0 ? $0 / total : 0 }, analysis: analysisFields)
            let summary = summaryJSON(config: cfg, result: result, ranks: comm.size,
                                      wallSeconds: Date().timeIntervalSince(started), gravity: gravity,
                                      peakMemoryMiB: peakMemory, runID: runID, solve: fields)
            try writeDurably(summary.rendered() + "\n", to: staged("summary.json"))
        }
    }

}

/// The running number of `hat solve` checkpoints (touched on the root only, from the solver's monitor).
final class CheckpointCounter: @unchecked Sendable {
    private var value: Int
    /// Why the latest checkpoint write failed (then a stop cannot promise a resumable checkpoint).
    var writeFailure: String?
    /// Whether that failure, not a signal, stopped the solve.
    var stoppedForFailure = false
    /// The checkpoint folder, when this run made it (removed again if the run fails leaving it empty).
    var createdDirectory: String?
    init(_ start: Int) { value = start }
    func next() -> Int { value += 1; return value }
}
