import Equilibrium
import Foundation
import HATModel
import Parallel

/// The analysed country's household at given prices (HAT-SPEC §6: the micro outputs are partial
/// equilibrium objects of one country's household problem): the problem, its solved policies and the
/// stationary distribution. Every rank holds the same copy.
///
/// Arrays use the solver's layout: household arrays `[variety][shock][asset]`, per-state arrays
/// `[shock][asset]` (the spec's flat state index k = a + s N_a).
public struct AnalysedHousehold: Sendable {
    public var country: Int
    public var problem: HouseholdProblem
    /// L_i.
    public var labor: Double
    /// c*, v*.
    public var policy: HouseholdPolicy
    /// a′* of each state and variety.
    public var assetPolicy: [Double]
    /// π* of each state and variety.
    public var choiceProbabilities: [Double]
    /// λ of each state.
    public var masses: [Double]

    public var assetCount: Int { problem.assets.count }
    public var shockCount: Int { problem.income.count }
    public var varietyCount: Int { problem.varieties }
    public var stateCount: Int { assetCount * shockCount }

    @inline(__always) public func index(variety j: Int, state k: Int) -> Int { j * stateCount + k }

    /// e_kj = p_j c_kj π_kj, expenditure of state k on variety j (`[variety][state]`).
    public var expenditure: [Double] {
        var e = [Double](repeating: 0, count: varietyCount * stateCount)
        for j in 0..<varietyCount {
            let p = problem.prices[j]
            for k in 0..<stateCount {
                let idx = index(variety: j, state: k)
                e[idx] = p * policy.consumption[idx] * choiceProbabilities[idx]
            }
        }
        return e
    }

    /// pc_k = Σ_j e_kj.
    public var stateExpenditure: [Double] {
        let e = expenditure
        return (0..<stateCount).map { k in
            var total = 0.0
            for j in 0..<varietyCount { total += e[index(variety: j, state: k)] }
            return total
        }
    }

    /// Labour income w_i z_s of each state.
    public var stateIncome: [Double] {
        (0..<stateCount).map { problem.wage * problem.income.z[$0 / assetCount] }
    }

    /// Current assets of each state.
    public var stateAssets: [Double] { (0..<stateCount).map { problem.assets[$0 % assetCount] } }

    /// The ex-ante value of each state, V(a, s) = σ log Σ_j exp((ψ_sj + v_asj)/σ) (max-shifted; equal to the
    /// spec's Σ_j π_j (ψ_j + v_j − σ log π_j) without its 0·log 0 hazard).
    public var exAnteValues: [Double] { Self.exAnteValues(problem: problem, values: policy.values) }

    public static func exAnteValues(problem: HouseholdProblem, values v: [Double]) -> [Double] {
        let nState = problem.assets.count * problem.income.count, na = problem.assets.count
        return (0..<nState).map { k in
            let psi = problem.homeQuality[k / na]
            return TasteShocks.inclusiveValue(varieties: problem.varieties, sigma: problem.sigma) { j in
                v[j * nState + k] + (j == problem.home ? psi : 0)
            }
        }
    }

    public init(country: Int, problem: HouseholdProblem, labor: Double, policy: HouseholdPolicy,
                assetPolicy: [Double], choiceProbabilities: [Double], masses: [Double]) {
        self.country = country; self.problem = problem; self.labor = labor; self.policy = policy
        self.assetPolicy = assetPolicy; self.choiceProbabilities = choiceProbabilities; self.masses = masses
    }

    /// Country `i`'s household as last evaluated by `evaluator` (after `solveEquilibrium`/`reportEquilibrium`:
    /// the reporting evaluation), copied from the rank that owns it to every rank (collective).
    public static func gather(country i: Int, from evaluator: WorldEvaluator, prices: Prices) throws -> AnalysedHousehold {
        guard let got = try evaluator.gatherCountry(i) else {
            throw AnalysisError("analysis: \(evaluator.world.names[i]) has no solved household at these prices")
        }
        let problem = evaluator.world.householdProblem(country: i, model: evaluator.model, income: evaluator.income,
                                                       prices: prices)
        return AnalysedHousehold(country: i, problem: problem, labor: evaluator.world.labor[i],
                                 policy: HouseholdPolicy(consumption: got.consumption, values: got.values),
                                 assetPolicy: got.assetPolicy, choiceProbabilities: got.choiceProbabilities,
                                 masses: got.masses)
    }

    /// Solve country `i`'s household and distribution at `prices` on this rank (every rank gets the same
    /// bits: cold starts).
    public static func solve(country i: Int, world: World, model: ModelParameters, income: IncomeProcess,
                             prices: Prices, householdTolerance: Double, distributionTolerance: Double) throws -> AnalysedHousehold {
        let problem = world.householdProblem(country: i, model: model, income: income, prices: prices)
        let hh = HouseholdSolver(assets: model.assetPoints, shocks: income.count, varieties: world.count)
        try hh.solve(problem, tolerance: householdTolerance)
        let dist = StationaryDistribution(assets: model.assetPoints, shocks: income.count)
        try dist.solve(household: hh, transition: income.transition, tolerance: distributionTolerance)
        return AnalysedHousehold(country: i, problem: problem, labor: world.labor[i], policy: hh.policy,
                                 assetPolicy: hh.assetPolicy, choiceProbabilities: hh.choiceProbabilities,
                                 masses: dist.masses)
    }
}

/// An analysis that could not be completed; agreed on every rank.
public struct AnalysisError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Items 0..<count spread over the ranks in contiguous blocks, each computed by `body` on its owner, then
/// gathered in item order on every rank. Each item's result depends only on the item, so the gathered
/// array is bitwise the same for any number of ranks. `body` reports a failure as a value (the first
/// non-empty message) instead of throwing, so that no rank is left waiting in the gather.
func distributedMap<T: Packable>(count: Int, communicator comm: Communicator,
                                 _ body: (Int) -> (T?, String)) throws -> [T] {
    let mine = Partition(count: count, parts: comm.size).range(of: comm.rank)
    var local: [Outcome<T>] = []
    for item in mine {
        let (value, failure) = body(item)
        local.append(Outcome(value: failure.isEmpty ? value : nil, failure: failure))
    }
    let all = try comm.allGather(local)
    if let bad = all.first(where: { !$0.failure.isEmpty }) { throw AnalysisError(bad.failure) }
    return all.map { $0.value! }
}

struct Outcome<T: Packable>: Packable {
    var value: T?
    var failure: String
    init(value: T?, failure: String) { self.value = value; self.failure = failure }
    func pack(into m: inout MessageWriter) { m.write(value); m.write(failure) }
    init(unpacking m: inout MessageReader) throws { value = try m.read(); failure = try m.read() }
}
