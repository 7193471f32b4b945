import Analysis
import Foundation
import HATConfig
import Output
import Parallel
import Solvers

/// `hat planner`: the efficient allocation of a configured world (HAT-SPEC §6.6) into planner.json. A small
/// root-finding problem (M unknowns) solved on the root rank; the verdict is shared with every rank.
public struct PlannerJob {
    public let loaded: LoadedConfiguration
    public let communicator: Communicator
    public let log: Logger

    public init(loaded: LoadedConfiguration, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.communicator = communicator; self.log = log
    }

    public func run(started: Date) throws -> RunEnd {
        let cfg = loaded.configuration
        let comm = communicator
        guard cfg.world.supply.isLinearInLabour else {
            throw ConfigError(file: cfg.path, key: "firms", problem: "hat planner needs output linear in labour (Q = A L); the \(cfg.world.supply.name) supply side has entry and fixed costs, whose efficient allocation is not the one of HAT-SPEC §6.6")
        }
        return try runOnRoot(directory: cfg.outputDirectory, outputs: ["planner.json"], folderFile: loaded.folderFile,
                             folderKey: loaded.folderKey, configuration: cfg.path, comm: comm) { folder in
            let plan = try EfficientAllocation.solve(world: cfg.world, model: cfg.model, tolerance: cfg.equilibrium.tolerance,
                                                     maxIterations: cfg.equilibrium.maxIterations)
            let m = plan.names.count
            func rows(_ v: [Double]) -> JSON { .matrix((0..<m).map { Array(v[($0 * m)..<(($0 + 1) * m)]) }) }
            let residualMax = normInf(plan.residuals)
            let finite = residualMax.isFinite && (plan.consumption + plan.tradeShares + plan.elasticities).allSatisfy { $0.isFinite }
            var fields: [(String, JSON)] = [
                ("status", .string(plan.converged && finite ? "converged" : "not-converged")),
                ("reason", .string(plan.reason.message)),
                ("countries", .array(plan.names.map { JSON.string($0) })),
                ("pareto_weights", .numbers(cfg.world.tfp)),
            ]
            if finite {
                fields += [
                    ("consumption", rows(plan.consumption)),
                    ("choice_probabilities", rows(plan.choiceProbabilities)),
                    ("trade_shares", rows(plan.tradeShares)),
                    ("home_shares", .numbers((0..<m).map { plan.tradeShares[$0 * m + $0] })),
                    ("elasticities", rows(plan.elasticities)),
                    ("multipliers", .numbers(plan.multipliers)),
                    ("residual_max", .number(residualMax)),
                    // Proposition 4: W and dW/d log d_ij per period, and discounted where β is fixed.
                    ("welfare_per_period", .number(plan.welfare)),
                    ("welfare_derivatives", rows(plan.welfareDerivatives)),
                ]
                let fixed = cfg.equilibrium.closure.parameter
                if fixed.name == "beta" {
                    fields += [("beta", .number(fixed.value)),
                               ("welfare_derivatives_discounted", rows(plan.welfareDerivatives.map { $0 / (1 - fixed.value) }))]
                }
            }
            fields += [("iterations", .integer(plan.iterations)), ("wall_seconds", .number(Date().timeIntervalSince(started))),
                       ("version", .string(hatVersion)), ("run", runJSON(config: cfg, runID: folder.runID, ranks: comm.size))]
            try writeAtomically(JSON.object(fields).rendered() + "\n", to: cfg.outputDirectory + "/planner.json")
            log(String(format: "planner: %@, max-abs resource residual %.3e, wrote %@/planner.json",
                       plan.converged ? "converged" : "NOT converged", residualMax, cfg.outputDirectory))
            return plan.converged
        }
    }
}
