import Equilibrium
import HATModel
import Foundation
import Gravity
import HATConfig
import Solvers

/// The version of hat: the one place it is written (`hat --version`, summary.json, solution.h5, bench JSON).
public let hatVersion = "0.1.0"

/// What `hat solve` adds to summary.json about how the work was spread and what was analysed.
public struct SolveSummaryFields {
    /// `parallel.grid_blocks` and the layout it gave (WorldEvaluator.layoutDescription()).
    public var gridBlocks: String
    public var layout: String
    /// Max rank load / mean − 1, and each rank's share of the measured cost.
    public var loadImbalance: Double
    public var rankLoads: [Double]
    /// `[analysis]`: its results, or {"error": why} when it could not be computed; nil without [analysis].
    public var analysis: JSON?

    public init(gridBlocks: String, layout: String, loadImbalance: Double, rankLoads: [Double], analysis: JSON?) {
        self.gridBlocks = gridBlocks; self.layout = layout; self.loadImbalance = loadImbalance
        self.rankLoads = rankLoads; self.analysis = analysis
    }
}

/// The headline numbers of a solve (CONTRACT.md `summary.json`): status, what was solved, prices, residuals, trade, the gravity comparison, and
/// the run fields; `solve` adds the layout and the analysis (`hat solve`; nil for other callers).
public func summaryJSON(config: RunConfiguration, result: EquilibriumResult, ranks: Int, wallSeconds: Double,
                        gravity: GravityComparison? = nil, peakMemoryMiB: [Double] = [], runID: String = "",
                        solve: SolveSummaryFields? = nil) -> JSON {
    let report = result.report
    let shares = report.tradeShares
    let names = config.world.names
    let eq = config.equilibrium
    let residuals: [(String, JSON)] = zip(result.residualNames, result.residuals).map { ($0.0, JSON.number($0.1)) }
    let unknowns: [(String, JSON)] = zip(result.unknownNames, result.unknowns).map { ($0.0, JSON.number($0.1)) }
    let homeShares: [Double] = (0..<names.count).map { shares[$0][$0] }
    let reportingMax = normInf(result.reportResiduals)
    var fields: [(String, JSON)] = []
    func appendRunFields(peakMemory: Bool) {
        if let solve {
            fields.append(("grid_blocks", .string(solve.gridBlocks)))
            fields.append(("layout", .string(solve.layout)))
            fields.append(("load_imbalance", .number(solve.loadImbalance)))
            fields.append(("rank_loads", .numbers(solve.rankLoads)))
            if let analysis = solve.analysis { fields.append(("analysis", analysis)) }
        }
        fields.append(("iterations", .integer(result.iterations)))
        fields.append(("world_evaluations", .integer(result.evaluations)))
        fields.append(("ranks", .integer(ranks)))
        fields.append(("wall_seconds", .number(wallSeconds)))
        if peakMemory { fields.append(("peak_memory_mib", .numbers(peakMemoryMiB))) }
        // The same id is the root attribute run_id of solution.h5: the pair belongs to one run.
        fields.append(("run_id", .string(runID)))
        fields.append(("version", .string(hatVersion)))
        fields.append(("run", runJSON(config: config, runID: runID, ranks: ranks)))
    }
    fields.append(("status", .string(result.converged ? "converged" : "not-converged")))
    fields.append(("reason", .string(result.reason.message)))
    if !result.reasonDetail.isEmpty { fields.append(("reason_detail", .string(result.reasonDetail))) }
    fields.append(("strategy", .string(result.strategy)))
    if let noise = result.residualNoise, noise.isFinite { fields.append(("residual_noise", .number(noise))) }
    fields.append(("closure", .string(eq.closure.kind.rawValue)))
    // What was run: a sweep point or a calibration step can be identified from summary.json alone.
    let fixed = eq.closure.parameter
    fields.append(("closure_parameters", .object([(fixed.name, .number(fixed.value))])))
    fields.append(("model", modelJSON(config.model)))
    fields.append(("grid", gridJSON(config.model)))
    fields.append(("world", worldJSON(config)))
    fields.append(("countries", .array(names.map { JSON.string($0) })))
    fields.append(("R", .numbers(result.prices.rates)))
    fields.append(("beta", .number(result.prices.beta)))
    fields.append(("wages", .numbers(result.prices.wages)))
    if eq.closure.kind == .worldRateRebate { fields.append(("transfers", .numbers(result.prices.transfers))) }
    fields.append(("unknowns", .object(unknowns)))
    if !result.residuals.allSatisfy({ $0.isFinite }) || report.failed {
        // No NaN is ever written as a result: what could not be computed is named instead.
        fields.append(("failed_countries", .object(zip(names, report.countries).compactMap { name, c in
            c.failure.map { (name, JSON.string($0.description)) } })))
        if result.residuals.allSatisfy({ $0.isFinite }) {
            fields.append(("residual_max", .number(result.residualMax)))
            fields.append(("residuals", .object(residuals)))
        }
        appendRunFields(peakMemory: false)
        return .object(fields)
    }
    fields.append(("trade_shares", .matrix(shares)))
    fields.append(("home_shares", .numbers(homeShares)))
    fields.append(("bond_demand", .numbers(report.bondDemand)))
    fields.append(("output", .numbers(report.output)))
    fields.append(("residual_max", .number(result.residualMax)))
    fields.append(("residuals", .object(residuals)))
    fields.append(("reporting_residual_max", .number(reportingMax)))
    fields.append(("household_tolerance", .number(eq.evaluation.householdTolerance)))
    fields.append(("reporting_household_tolerance", .number(eq.reportingHouseholdTolerance)))
    fields.append(("distribution_tolerance", .number(eq.evaluation.distributionTolerance)))
    fields.append(("household_iterations", .array(report.countries.map { JSON.integer($0.household.iterations) })))
    fields.append(("distribution_iterations", .array(report.countries.map { JSON.integer($0.distribution.iterations) })))
    // The author's code only prints a warning when these inner loops hit their caps (500 / 5000).
    fields.append(("household_converged", .array(report.countries.map { JSON.bool($0.household.converged) })))
    fields.append(("distribution_converged", .array(report.countries.map { JSON.bool($0.distribution.converged) })))
    fields.append(("mass_at_grid_top", .numbers(report.countries.map { $0.aggregates.massAtTop })))
    let supply = config.world.supply
    if let extra = supply.report(world: config.world, prices: result.prices, spending: report.tradeFlows) {
        fields.append(("supply", .string(supply.name)))
        fields.append(("supply_parameters", supplyJSON(SupplyReport(fields: supply.parameters))))
        if let p = result.prices.buyerPrices { fields.append(("buyer_prices", .matrix(p))) }
        fields.append(("firms", supplyJSON(extra)))
    }
    if let gravity {
        fields.append(("gravity", .object([
            ("max_abs_gap", .number(gravity.maxAbsGap)),
            ("model", gravityJSON(gravity.model, countries: names)),
            ("data", gravityJSON(gravity.data, countries: names)),
        ])))
    }
    appendRunFields(peakMemory: true)
    return .object(fields)
}

/// A supply side's report as a JSON object.
public func supplyJSON(_ report: SupplyReport) -> JSON {
    func json(_ value: SupplyReport.Value) -> JSON {
        switch value {
        case let .number(x): return .number(x)
        case let .numbers(x): return .numbers(x)
        case let .matrix(x): return .matrix(x)
        case let .object(fields): return .object(fields.map { ($0.name, json($0.value)) })
        }
    }
    return .object(report.fields.map { ($0.name, json($0.value)) })
}

/// The model parameters (HAT-SPEC §0, §1): β is a closure parameter or an unknown, so it is not here.
func modelJSON(_ model: ModelParameters) -> JSON {
    .object([("gamma", .number(model.gamma)), ("sigma_eps", .number(model.sigmaEps)),
             ("psi_slope", .number(model.psiSlope)), ("phi", .number(model.phi)), ("amax", .number(model.amax))])
}

/// The asset grid and the income process.
func gridJSON(_ model: ModelParameters) -> JSON {
    let inc = model.income
    return .object([("assets", .integer(model.assetPoints)),
                    ("income_states", .integer(inc.persistentStates * inc.transitoryStates)),
                    ("persistent_states", .integer(inc.persistentStates)),
                    ("transitory_states", .integer(inc.transitoryStates)),
                    ("rho", .number(inc.rho)), ("sigma_persistent", .number(inc.sigmaPersistent)),
                    ("sigma_transitory", .number(inc.sigmaTransitory))])
}

/// The world that was solved: TFP, labour, trade costs and tariffs (row = importer), and the data folder and
/// parameter vector of a data world.
func worldJSON(_ config: RunConfiguration) -> JSON {
    let w = config.world, m = w.count
    func rows(_ v: [Double]) -> [[Double]] { (0..<m).map { Array(v[($0 * m)..<(($0 + 1) * m)]) } }
    var fields: [(String, JSON)] = [("tfp", .numbers(w.tfp)), ("labor", .numbers(w.labor)),
                                    ("trade_costs", .matrix(rows(w.tradeCosts))), ("tariffs", .matrix(rows(w.tariffs)))]
    if let data = config.dataWorld {
        fields.append(("data_dir", .string(data.world.directory)))
        fields.append(("parameters", .string(data.parametersFile)))
    }
    return .object(fields)
}

/// The run's identity: id, version, launcher and (under SLURM) the job, array job and task.
public func runJSON(config: RunConfiguration, runID: String, ranks: Int) -> JSON {
    let env = ProcessInfo.processInfo.environment
    var fields: [(String, JSON)] = [("run_id", .string(runID)), ("version", .string(hatVersion)), ("ranks", .integer(ranks)),
                                    ("configuration", .string(config.path)),
                                    ("overrides", .array(config.overrides.map { JSON.string($0) }))]
    for (key, variable) in [("slurm_job_id", "SLURM_JOB_ID"), ("slurm_array_job_id", "SLURM_ARRAY_JOB_ID"),
                            ("slurm_array_task_id", "SLURM_ARRAY_TASK_ID")] {
        if let value = env[variable] { fields.append((key, .string(value))) }
    }
    return .object(fields)
}
