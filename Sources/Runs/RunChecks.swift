import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel

/// The checks every run makes before its long computation: will its arrays fit, and can its household
/// problem be solved at the starting prices. Each returns a one-line refusal (exit 2) or "".
public enum RunChecks {
    /// Refuse (exit 2) a configuration whose household arrays cannot fit this node's memory, or whose one
    /// world evaluation would take more than a week. Collective; returns the refusal (or "") and the
    /// estimate for the log.
    public static func checkResources(_ cfg: RunConfiguration, comm: Communicator) throws -> (refusal: String, estimate: String) {
        let m = cfg.model, inc = m.income
        let layout = WorldEvaluator.layout(costs: [Double](repeating: 1, count: cfg.world.count),
                                           shocks: inc.persistentStates * inc.transitoryStates, ranks: comm.size,
                                           mode: cfg.gridBlocks)
        let estimate = ResourceEstimate(assets: m.assetPoints, persistentStates: inc.persistentStates,
                                        transitoryStates: inc.transitoryStates, countries: cfg.world.count,
                                        ranks: comm.size, householdMaxIterations: cfg.equilibrium.evaluation.householdMaxIterations,
                                        piecesPerRank: layout.maxPieces)
        let node = try comm.nodeLocal()
        let nodeBytes = estimate.bytesPerRank * Double(node.size)
        let available = availableMemoryBytes() ?? .infinity
        // Ranks on different nodes may see different memory: agree on the verdict.
        let tooBig = try comm.allReduce([nodeBytes > available ? 1 : 0])[0] == 1
        let gib = 1024.0 * 1024 * 1024
        let s = inc.persistentStates * inc.transitoryStates
        let sizes = "N_a \(m.assetPoints), S \(s), M \(cfg.world.count)"
        // The key that dominates the estimate: the income process grows with S², the workspaces with N_a S M.
        let incomeBytes = 4 * Double(s) * Double(s) * 8
        let key = incomeBytes > Double(estimate.countriesPerRank) * estimate.bytesPerCountry
            ? "income.persistent_states" : "grid.assets"
        if tooBig {
            return (ConfigError(file: cfg.source(of: key), key: key, problem: String(
                format: "needs an estimated %.1f GiB on one node (%d rank(s) x %.1f GiB: %@), but %.1f GiB is available; reduce grid.assets or the income states, or spread the ranks over more nodes",
                nodeBytes / gib, node.size, estimate.bytesPerRank / gib, sizes, available / gib)).description, "")
        }
        let week = 7 * 24 * 3600 * 1e9      // flop at 1 Gflop/s per rank
        if estimate.flopsPerEvaluation > week {
            return (ConfigError(file: cfg.source(of: key), key: key, problem: String(
                format: "one world evaluation needs up to %.1e flop per rank (%@), more than a week at 1 Gflop/s; reduce grid.assets or the income states",
                estimate.flopsPerEvaluation, sizes)).description, "")
        }
        return ("", String(format: "estimated memory %.2f GiB per rank (%d countries or blocks on the busiest rank), %.2f GiB on this node; at most %.2g flop per world evaluation",
                           estimate.bytesPerRank / gib, estimate.countriesPerRank, nodeBytes / gib, estimate.flopsPerEvaluation))
    }

    /// Refuse (exit 2) starting prices at which the household problem is infeasible in closed form.
    public static func checkFeasibility(_ cfg: RunConfiguration, income: IncomeProcess) -> String {
        let eq = cfg.equilibrium, m = cfg.world.count
        let prices = eq.closure.prices(at: eq.start, countries: m)
        guard let bad = cfg.world.unresolvableResiduals(prices: prices, tolerance: eq.tolerance)
                ?? cfg.world.infeasibleStart(model: cfg.model, income: income, prices: prices,
                                             rateIsFixed: eq.closure.kind == .fixedRate) else { return "" }
        // The preflight names R's key generically; the configuration knows which spelling the user gave.
        let key = bad.key == "equilibrium.rate" ? cfg.rateKey : bad.key
        return ConfigError(file: cfg.source(of: key), key: key, problem: bad.problem).description
    }
}
