import Analysis
import Foundation
import HATModel
import Storage

/// summary.json's `analysis` (CONTRACT.md "Household analysis").
public func analysisJSON(_ a: HouseholdAnalysis, names: [String]) -> JSON {
    let base = a.household, i = base.country
    let partners = names.indices.filter { $0 != i }
    var fields: [(String, JSON)] = [
        ("country", .string(names[i])),
        ("partners", .array(partners.map { JSON.string(names[$0]) })),
    ]
    if let bilateral = a.bilateral, let aggregate = a.aggregate, let micro = a.elasticities {
        fields.append(("bilateral_elasticities", .numbers(partners.map { bilateral[$0] })))
        fields.append(("aggregate_elasticity", .number(aggregate)))
        fields.append(("micro", .object([
            ("step", .number(MicroElasticities.step)),
            ("household_tolerance", .number(1e-10)),
            ("household_solves", .integer(2 * micro.sources)),
            ("unconverged_solves", .integer(micro.unconvergedSolves)),
        ])))
    }
    fields.append(("prices", .numbers(partners.map { base.problem.prices[$0] })))
    fields.append(("import_shares", .numbers(partners.map { a.importShares[$0] })))
    fields.append(("home_share", .number(a.importShares[i])))
    if let mpc = a.mpc {
        var mean = 0.0, total = 0.0
        for k in base.masses.indices { mean += base.masses[k] * mpc.byState[k]; total += base.masses[k] }
        fields.append(("mpc_mean", .number(mean / total)))
        fields.append(("mpc_transfer", .number(MarginalPropensities.transfer)))
    }
    if let cs = a.crossSection {
        fields.append(("quintiles", quintilesJSON(cs.quintiles())))
        fields.append(("income_groups", incomeGroupsJSON { cs.incomeGroups(low: $0, high: $1) }))
        if let sim = a.simulated {
            let q = sim.quintiles(cs)
            var block: [(String, JSON)] = [("draws", .integer(sim.draws)), ("seed", .integer(Int(sim.seed)))]
            // Ties in a small sample can leave a bin empty: no mean, so no quintile table (never a null).
            if q.allSatisfy({ $0.share > 0 }) { block.append(("quintiles", quintilesJSON(q))) }
            else { block.append(("quintiles_note", .string("a quintile of the sample is empty (ties); no quintile means"))) }
            block.append(("income_groups", incomeGroupsJSON { sim.incomeGroups(cs, low: $0, high: $1) }))
            fields.append(("simulated", .object(block)))
        }
    }
    // Timings differ between runs: each on its own line with a `wall_seconds` name (see RunFolder tests).
    for (name, seconds) in a.timings { fields.append(("\(name)_wall_seconds", .number(seconds))) }
    // Degenerate worlds (a source nobody buys from) can make a ratio undefined: left out, never null.
    return JSON.object(fields).droppingNonFinite() ?? .object([])
}

/// Five group means per quantity, poorest expenditure quintile first.
public func quintilesJSON(_ q: [CrossSection.GroupMeans]) -> JSON {
    var fields: [(String, JSON)] = [
        ("import_share", .numbers(q.map(\.importShare))),
    ]
    if q.first?.elasticity != nil { fields.append(("elasticity", .numbers(q.map { $0.elasticity! }))) }
    if q.first?.mpc != nil { fields.append(("mpc", .numbers(q.map { $0.mpc! }))) }
    fields.append(("assets", .numbers(q.map(\.assets))))
    if q.first?.welfare != nil { fields.append(("ev_percent", .numbers(q.map { $0.welfare! }))) }
    fields.append(("expenditure", .numbers(q.map(\.expenditure))))
    fields.append(("income", .numbers(q.map(\.income))))
    fields.append(("population_share", .numbers(q.map(\.share))))
    return .object(fields)
}

func incomeGroupsJSON(_ groups: (Double, Double) -> (poor: CrossSection.GroupMeans, middle: CrossSection.GroupMeans,
                                                     rich: CrossSection.GroupMeans)) -> JSON {
    func group(_ g: CrossSection.GroupMeans) -> JSON {
        // An empty group (too few income states for the split) has no means: only its share, never null.
        guard g.share > 0 else { return .object([("population_share", .number(0))]) }
        var fields: [(String, JSON)] = [("import_share", .number(g.importShare))]
        if let e = g.elasticity { fields.append(("elasticity", .number(e))) }
        if let m = g.mpc { fields.append(("mpc", .number(m))) }
        fields.append(("assets", .number(g.assets)))
        if let w = g.welfare { fields.append(("ev_percent", .number(w))) }
        fields.append(("population_share", .number(g.share)))
        return .object(fields)
    }
    return .object([(0.2, 0.8, "p20_p80"), (0.5, 0.5, "p50_p50")].map { low, high, name in
        let g = groups(low, high)
        return (name, .object([("poor", group(g.poor)), ("middle", group(g.middle)), ("rich", group(g.rich))]))
    })
}

/// The `analysis/` group of solution.h5 (written by the root; every rank has the same arrays).
public func writeAnalysis(_ a: HouseholdAnalysis, names: [String], to f: HDF5File) throws {
    let base = a.household
    let m = base.varietyCount, nS = base.shockCount, na = base.assetCount
    let household = [m, nS, na], state = [nS, na]
    try f.setAttribute("/", "analysis_country", names[base.country])
    func put(_ name: String, _ shape: [Int], _ values: [Double], _ description: String) throws {
        guard values.allSatisfy({ $0.isFinite }) else { return }     // never a NaN as a result
        try f.writeShared("analysis/" + name, shape: shape, values: values,
                          attributes: ["description": description,
                                       "dimensions": shape.count == 3 ? "source (variety), income_state, asset" : (shape.count == 2 ? "income_state, asset" : "")])
    }
    try put("expenditure", household, base.expenditure, "e[j, s, a] = p_j c pi: expenditure of each state on variety j")
    try put("import_shares", [m], a.importShares, "pi_ij of the analysed country (from its household)")
    if let micro = a.elasticities, let bilateral = a.bilateral, let aggregate = a.aggregate {
        try put("theta_pi", household, micro.thetaPi, "d log pi_ij / d log p_ij of each state (HAT-SPEC 6.1)")
        try put("theta_pi_home", household, micro.thetaPiHome, "d log pi_ii / d log p_ij")
        try put("theta_c", household, micro.thetaC, "d log c_ij / d log p_ij")
        try put("theta_c_home", household, micro.thetaCHome, "d log c_ii / d log p_ij")
        try put("extensive", household, micro.extensive, "theta^E = theta_pi - theta_pi_home")
        try put("intensive", household, micro.intensive, "theta^I = theta_c - theta_c_home")
        try put("total", household, micro.total, "theta = 1 + theta^E + theta^I")
        try put("bilateral_elasticities", [m], bilateral, "theta_ij (Proposition 1), theta_ii = 1")
        try put("aggregate_elasticity", [], [aggregate], "trade-weighted mean of theta_ij over j != i")
        if let se = a.stateElasticity { try put("state_elasticity", state, se, "household trade-weighted theta-bar(a, s) over foreign sources") }
    }
    if let mpc = a.mpc {
        try put("mpc", household, mpc.byVariety, "(c-hat - c*) / tau' of variety j, quantity per unit of money (HAT-SPEC 6.3)")
        try put("state_mpc", state, mpc.byState, "expenditure-weighted mpc-bar(a, s)")
    }
    if let cs = a.crossSection {
        try put("state_expenditure", state, cs.expenditure, "pc(a, s) = sum_j e")
        try put("state_import_share", state, cs.importShare, "1 - e_ii / pc")
        try put("state_income", state, cs.income, "labour income w z_s")
        try put("distribution", state, cs.masses, "stationary distribution lambda(a, s)")
        let q = cs.quintiles()
        try put("quintiles/import_share", [5], q.map(\.importShare), "by expenditure quintile, poorest first")
        try put("quintiles/assets", [5], q.map(\.assets), "by expenditure quintile, poorest first")
        if q[0].elasticity != nil { try put("quintiles/elasticity", [5], q.map { $0.elasticity! }, "by expenditure quintile, poorest first") }
        if q[0].mpc != nil { try put("quintiles/mpc", [5], q.map { $0.mpc! }, "by expenditure quintile, poorest first") }
    }
}
