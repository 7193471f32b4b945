import Equilibrium
import Foundation
import Gravity
import HATConfig
import HATModel
import Parallel
import Storage

/// Layout version of `solution.h5`; bump when datasets change meaning.
public let solutionSchemaVersion = "1"

/// Writes `solution.h5` collectively at `path` (the caller stages and commits it, see `RunFolder`): every
/// rank creates the same objects; rank 0 writes the shared arrays; each rank writes one hyperslab per run
/// of whole countries it holds, and one per block of a country's income states where grid blocks split a
/// country; each country's lead rank writes its distribution. When the reporting evaluation failed for some country,
/// the household arrays and aggregates are left out (they would hold NaN) and `failed_countries` says why.
public func writeSolution(path: String, config: RunConfiguration, result: EquilibriumResult,
                          evaluator: WorldEvaluator, gravity: GravityComparison? = nil, runID: String = "",
                          extra: ((HDF5File) throws -> Void)? = nil) throws {
    let comm = evaluator.communicator
    do {
        let file = try HDF5File.create(path, communicator: comm)
        try file.setAttribute("/", "run_id", runID)
        try writeContents(file, config: config, result: result, evaluator: evaluator)
        if let gravity {
            let layout = "S (M), theta_m (M), distance bins (6), border, language, EC, EFTA"
            try file.writeShared("gravity/model_moments", shape: [gravity.model.moments.flattened.count],
                                 values: gravity.model.moments.flattened,
                                 attributes: ["description": "gravity regression on the model's trade shares: " + layout])
            try file.writeShared("gravity/data_moments", shape: [gravity.data.moments.flattened.count],
                                 values: gravity.data.moments.flattened,
                                 attributes: ["description": "gravity regression on the data: " + layout])
        }
        if let source = config.dataWorld?.world, !result.report.failed {
            // The pairs behind the moments, for model-versus-data pictures (scripts/figures.py).
            let pairs = source.data.pairs
            try file.writeShared("gravity/data_log_trade_ratios", shape: [pairs.count], values: source.data.logTradeRatios,
                                 attributes: ["description": "log(X_ij / X_ii) in the data, one per importer-exporter pair (pair_importer, pair_exporter)"])
            try file.writeShared("gravity/model_log_trade_ratios", shape: [pairs.count],
                                 values: logTradeRatios(tradeShares: result.report.tradeShares.flatMap { $0 }, pairs: pairs,
                                                        countries: source.countries),
                                 attributes: ["description": "log(pi_ij / pi_ii) of the model, same pairs"])
            try file.writeShared("gravity/pair_importer", shape: [pairs.count], values: pairs.map { Double($0.importer + 1) },
                                 attributes: ["description": "importer of each pair, 1-based country index"])
            try file.writeShared("gravity/pair_exporter", shape: [pairs.count], values: pairs.map { Double($0.exporter + 1) },
                                 attributes: ["description": "exporter of each pair, 1-based country index"])
        }
        try extra?(file)
        try file.flush()
    }
    try comm.barrier()
}

private func writeContents(_ f: HDF5File, config: RunConfiguration, result: EquilibriumResult,
                           evaluator: WorldEvaluator) throws {
    let world = config.world, m = world.count
    let income = evaluator.income, nS = income.count, na = config.model.assetPoints
    let report = result.report

    try f.setAttribute("/", "schema_version", solutionSchemaVersion)
    try f.setAttribute("/", "hat_version", hatVersion)
    try f.setAttribute("/", "status", result.converged ? "converged" : "not-converged")
    try f.setAttribute("/", "reason", result.reason.message)
    try f.setAttribute("/", "reason_detail", result.reasonDetail)
    try f.setAttribute("/", "strategy", result.strategy)
    try f.setAttribute("/", "failed_countries", report.failureSummary(names: world.names))
    try f.setAttribute("/", "closure", config.equilibrium.closure.kind.rawValue)
    try f.setAttribute("/", "countries", world.names.joined(separator: ","))
    try f.setAttribute("/", "configuration", config.text)
    try f.setAttribute("/", "array_layout",
                       "C order (last index fastest). Household arrays are [country, variety, income_state, asset], i.e. the spec's X[a, s, j] per country; distributions [country, income_state, asset].")

    func shared(_ name: String, _ shape: [Int], _ values: [Double], _ description: String, units: String = "") throws {
        try f.writeShared(name, shape: shape, values: values, attributes: ["description": description, "units": units])
    }
    // World and prices.
    try shared("world/tfp", [m], world.tfp, "TFP A_i")
    try shared("world/labor", [m], world.labor, "labour force L_i")
    try shared("world/trade_costs", [m, m], world.tradeCosts, "iceberg cost d_ij, row = importer i, column = exporter j", units: "gross")
    try shared("world/tariffs", [m, m], world.tariffs, "ad-valorem tariff t_ij, row = importer", units: "fraction")
    try shared("prices/wages", [m], result.prices.wages, "wage w_i, normalised to mean one")
    try shared("prices/R", [m], result.prices.rates, "gross interest rate R_i")
    try shared("prices/beta", [], [result.prices.beta], "discount factor beta")
    try shared("prices/transfers", [m], result.prices.transfers, "lump-sum transfer tau_i per household (tariff rebate)")
    if world.supply.spendingElasticity == 0 {
        try shared("prices/buyer_prices", [m, m], (0..<m).flatMap { world.buyerPrices(importer: $0, prices: result.prices) },
                   "p_ij = w_j/A_j d_ij (1+t_ij), row = importer")
    } else if let found = result.prices.buyerPrices {
        try shared("prices/buyer_prices", [m, m], found.flatMap { $0 },
                   "p_ij, the price of j's composite in i with \(world.supply.name) firms inside (the fixed point with i's spending), row = importer")
    }
    // Income process and grids.
    try shared("income/log_z", [nS], income.logZ, "log efficiency units of each income state (mean z = 1)")
    try shared("income/transition", [nS, nS], income.transition, "P[s, s'], rows sum to one")
    try shared("income/stationary", [nS], income.stationary, "stationary distribution of the income states")
    try shared("income/log_persistent", [nS], income.logPersistent, "raw log persistent grid value l_s used by the quality shifter")
    let grids = (0..<m).flatMap { CountryScaling(tfp: world.tfp[$0], model: config.model).assetGrid }
    try shared("grid/assets", [m, na], grids, "asset grid of each country, [-phi A_i, amax A_i]", units: "assets")
    // Solver state.
    try shared("solver/unknowns", [result.unknowns.count], result.unknowns,
               "root-finder unknowns: " + result.unknownNames.joined(separator: ", "))
    if result.residuals.allSatisfy({ $0.isFinite }) {
        try shared("solver/residuals", [result.residuals.count], result.residuals,
                   "market residuals at the unknowns: " + result.residualNames.joined(separator: ", "))
    }
    // Nothing computed from a failed evaluation is written: no NaN ever lands in the file.
    guard !report.failed else { return }
    try shared("solver/reporting_residuals", [result.reportResiduals.count], result.reportResiduals,
               "market residuals re-evaluated at the reporting household tolerance")
    // Aggregates (gathered on every rank; the root writes them).
    try shared("aggregates/trade_flows", [m, m], report.tradeFlows.flatMap { $0 }, "M_ij: spending of importer i on variety j at buyer prices")
    try shared("aggregates/trade_shares", [m, m], report.tradeShares.flatMap { $0 }, "pi_ij = M_ij / sum_j M_ij, row = importer")
    try shared("aggregates/bond_demand", [m], report.bondDemand, "next-period asset demand L_i sum lambda pi a'")
    try shared("aggregates/output", [m], report.output, "Y_i = w_i N_i")
    try shared("aggregates/efficiency_units", [m], report.countries.map { $0.aggregates.efficiencyUnits }, "N_i = L_i sum lambda z")
    try shared("aggregates/expenditure", [m], report.countries.map { $0.aggregates.expenditure }, "consumption expenditure PC_i")
    try shared("aggregates/assets", [m], report.countries.map { $0.aggregates.assets }, "current assets B_i = L_i sum lambda a")
    try shared("aggregates/mass_at_grid_top", [m], report.countries.map { $0.aggregates.massAtTop }, "share of households at the top asset grid point")

    // Per-country household arrays: each rank writes its pieces (whole countries, or a block of a country's
    // income states) from its own buffers; the lead of each country writes its distribution. No rank ever
    // holds another rank's rows.
    let arrays: [(String, String, (HouseholdSolver) -> [Double])] = [
        ("household/c", "consumption policy c[country, j, s, a] of variety j", { $0.consumption }),
        ("household/a_next", "asset policy a'[country, j, s, a] conditional on variety j", { $0.assetPolicy }),
        ("household/pi", "choice probability pi[country, j, s, a] of variety j", { $0.choiceProbabilities }),
        ("household/v", "choice-specific value v[country, j, s, a], net of psi and taste shocks", { $0.values }),
    ]
    for (name, description, extract) in arrays {
        try f.createDataset(name, shape: [m, m, nS, na], attributes: ["description": description,
                                                                     "dimensions": "country, variety, income_state, asset"])
        // One hyperslab per run of whole countries, one per block of a split country.
        var blocks: [(start: [Int], count: [Int], values: [Double])] = []
        for piece in evaluator.pieces {
            let all = extract(evaluator.households[piece.country]!)
            if piece.shocks.count == nS, let last = blocks.last, last.count[2] == nS, last.start[0] + last.count[0] == piece.country {
                blocks[blocks.count - 1].count[0] += 1
                blocks[blocks.count - 1].values += all
                continue
            }
            let rows = piece.rows(of: all, shockCount: nS, assets: na)
            blocks.append(([piece.country, 0, piece.shocks.lowerBound, 0], [1, m, piece.shocks.count, na], rows))
        }
        try f.write(name, blocks: blocks)
    }
    try f.createDataset("distribution", shape: [m, nS, na],
                        attributes: ["description": "stationary distribution lambda[country, s, a] (sums to one per country)",
                                     "dimensions": "country, income_state, asset"])
    let owned = evaluator.owned
    try f.write("distribution", rows: owned.lowerBound, count: owned.count,
                values: owned.flatMap { evaluator.distributions[$0]!.masses })
}
