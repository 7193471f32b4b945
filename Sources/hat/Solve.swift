import ArgumentParser
import COpenBLAS
import Equilibrium
import Foundation
import HATConfig
import Output
import Parallel

struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Solve the world equilibrium of a configuration.",
        discussion: "Writes summary.json and solution.h5 into the output folder; logs one line per solver iteration on standard error.")

    @Argument(help: "TOML configuration file.")
    var config: String

    @Option(name: .long, help: "Output folder (overrides [output] dir).")
    var out: String?

    @Option(name: .customLong("set"), help: "Override one key by its dotted TOML path, e.g. --set model.gamma=1.2 (repeatable).")
    var overrides: [String] = []

    func run() throws {
        let started = Date()
        // Validate everything before MPI starts: a bad input costs nothing and writes nothing.
        var cfg = try ConfigurationLoader.load(path: config, overrides: overrides)
        if let out { cfg.outputDirectory = out }
        try prepareOutputDirectory(cfg.outputDirectory, key: out == nil ? "output.dir" : "", file: out == nil ? config : "--out")

        let comm = MPIEnvironment.world()
        let log: (String) -> Void = { line in
            if comm.isRoot { FileHandle.standardError.write(Data("hat: \(line)\n".utf8)) }
        }
        log("\(cfg.world.count) countries, closure \(cfg.equilibrium.closure.rawValue), \(comm.size) rank(s), N_a \(cfg.model.assetPoints), S \(cfg.model.income.persistentStates * cfg.model.income.transitoryStates)")

        let result: EquilibriumResult
        let evaluator = WorldEvaluator(world: cfg.world, model: cfg.model, communicator: comm)
        do {
            result = try solveEquilibrium(evaluator: evaluator, options: cfg.equilibrium, log: log)
        } catch {
            reportError("\(error)")
            comm.abort(code: 1)
        }
        let peakMemory = (try? comm.allGatherV([peakResidentMemoryMiB()])) ?? []
        log("peak memory per rank (MiB): " + peakMemory.map { String(format: "%.0f", $0) }.joined(separator: " "))
        // Gravity moments of the model next to the data's (computed identically on every rank).
        let gravity = try? gravityComparison(config: cfg, tradeShares: result.report.tradeShares)
        if let gravity { log(String(format: "gravity: max |model - data| over the 46 moments = %.3e", gravity.maxAbsGap)) }
        do {
            let dir = cfg.outputDirectory
            try writeSolution(path: dir + "/solution.h5", config: cfg, result: result, evaluator: evaluator, gravity: gravity)
            if comm.isRoot {
                let summary = summaryJSON(config: cfg, result: result, ranks: comm.size,
                                          wallSeconds: Date().timeIntervalSince(started), gravity: gravity,
                                          peakMemoryMiB: peakMemory)
                try writeAtomically(summary.rendered() + "\n", to: dir + "/summary.json")
            }
            try comm.barrier()
        } catch {
            FileHandle.standardError.write(Data("error: writing outputs: \(error)\n".utf8))
            comm.abort(code: HatExit.io)
        }
        log(String(format: "%@: R = %@, residual %.3e, wrote %@", result.converged ? "converged" : "NOT converged",
                   result.prices.rates.map { String($0) }.joined(separator: " "), result.residualMax, cfg.outputDirectory))
        if !result.converged {
            MPIEnvironment.finalize()
            Foundation.exit(HatExit.notConverged)
        }
    }
}

/// Create the output folder (and parents) and check that it is writable, before any computation.
func prepareOutputDirectory(_ path: String, key: String, file: String) throws {
    var isDir: ObjCBool = false
    let fm = FileManager.default
    if fm.fileExists(atPath: path, isDirectory: &isDir) {
        guard isDir.boolValue else { throw ConfigError(file: file, key: key, problem: "output folder \(path) exists and is not a folder") }
    } else {
        do { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw ConfigError(file: file, key: key, problem: "cannot create output folder \(path)")
        }
    }
    guard access(path, W_OK) == 0 else { throw ConfigError(file: file, key: key, problem: "output folder \(path) is not writable") }
}
