import Foundation
import HATModel

/// Where a household's gains come from (the paper's Proposition 2), for one direction of change: the world
/// moves along h, log d(h) = log d + h (log d′ − log d) (tariffs likewise in log(1 + t)), so h = 1 is the
/// experiment. At the baseline (h = 0) the derivative of every state's ex-ante value,
///     dV/dh = A + B + C   (per household),
/// is split into
/// - A, substitution: the change in the goods' prices relative to the home good,
///       E Σ β^t Σ_j π_j u′(c_j) c_j (−(d log p_j − d log p_ii)),
/// - B, factor prices: the change in resources measured in the home good,
///       E Σ β^t Σ_j π_j u′(c_j)/p_j (a dR + z dw + dτ − p_j c_j d log p_ii),
/// both with the policy held at the baseline's and E Σ β^t along the household's own future, computed with
/// the baseline policy's transition operator T (choices π, lotteries of a′, income transitions):
/// X = (I − βT)^{-1} flow (not by simulation);
/// - C, asset holdings: what re-optimising the savings policy adds, the central difference of
///   V_h − V^fixed_h, V^fixed_h being the value at the prices of h of the baseline's savings policy. By the
///   envelope theorem C vanishes to first order where the policy is optimal for the discrete values;
/// and, for the population, the term from the change in the distribution, V(a, s) dλ(a, s)/dh per state
/// (summed over states it is Proposition 2's second term).
///
/// Measuring relative to the home good is what makes the log-utility case exact (Proposition 3): with
/// u = log c the savings choice does not depend on the variety, π does not depend on the state, and
/// A = −σ d log π_ii /(1 − β) at every state.
///
/// The prices of h = ±step come from solved equilibria (general-equilibrium responses included); every
/// value is the converged one (`HouseholdSolver.solveValues`), so that differences are not the level
/// errors of a stopping rule. The derivatives are central differences: the dropped terms are O(step²).
public struct GainsDecomposition: Sendable {
    /// Per state (`[shock][asset]`), value units per unit of h.
    public var substitution: [Double]
    public var factorPrices: [Double]
    public var assetHoldings: [Double]
    /// V(a, s) dλ(a, s)/dh (population units: sum over states for the aggregate term).
    public var distribution: [Double]
    /// The central difference of the converged values, dV/dh.
    public var total: [Double]
    /// The central difference of the home variety's choice probability, d log π_ii/dh, per state.
    public var homeShareChange: [Double]
    /// ∂V/∂τ: the value of one more unit of the numeraire in every period, E Σ β^t Σ_j π_j u′(c_j)/p_j at
    /// the baseline policy (envelope theorem). X / this is the per-period transfer worth X to the state,
    /// comparable across states (unlike values; and unlike a multiplier on R a + w z, which is negative at
    /// the borrowing limit when debt service exceeds income).
    public var transferValue: [Double]
    /// w E[z], the baseline's mean labour income (the unit of `percentOfIncome`).
    public var meanLabourIncome: Double

    /// X as the per-period transfer of the same value, in percent of mean labour income.
    public func percentOfIncome(_ x: [Double]) -> [Double] {
        x.indices.map { 100 * x[$0] / transferValue[$0] / meanLabourIncome }
    }
    /// The baseline's converged ex-ante values and stationary distribution.
    public var values: [Double]
    public var masses: [Double]
    public var step: Double

    /// |A + B + C − total| relative to max(|total|, 1e-12), the largest over states.
    public var identityGap: Double {
        var worst = 0.0
        for k in total.indices {
            let sum = substitution[k] + factorPrices[k] + assetHoldings[k]
            worst = max(worst, abs(sum - total[k]) / max(abs(total[k]), 1e-12))
        }
        return worst
    }

    public struct Settings: Sendable {
        /// The bound on |v − v*| of every household solve, and on the discounted sums' iteration.
        public var valueTolerance = 1e-12
        public var policyTolerance = 1e-12
        public var distributionTolerance = 1e-13
        public init() {}
    }

    /// The decomposition from the analysed household's problem at the baseline and at h = ±step (same
    /// country, grid and parameters; prices, wage, R and transfers differ). Every rank computes the same
    /// bits (cold starts, no communication).
    public static func compute(baseline: HouseholdProblem, plus: HouseholdProblem, minus: HouseholdProblem,
                               step: Double, settings: Settings = Settings()) throws -> GainsDecomposition {
        precondition(step > 0)
        let zero = try ConvergedHousehold(baseline, settings: settings)
        let up = try ConvergedHousehold(plus, settings: settings)
        let down = try ConvergedHousehold(minus, settings: settings)
        let na = baseline.assets.count, nS = baseline.income.count, nState = na * nS, m = baseline.varieties
        let home = baseline.home
        let twoStep = 2 * step
        func difference(_ f: (HouseholdProblem) -> Double) -> Double { (f(plus) - f(minus)) / twoStep }
        let dR = difference { $0.rate }, dw = difference { $0.wage }
        let dTransfer = (0..<nS).map { s in (transfer(plus, shock: s) - transfer(minus, shock: s)) / twoStep }
        let dLogPrice = (0..<m).map { j in (log(plus.prices[j]) - log(minus.prices[j])) / twoStep }
        let gamma = baseline.gamma, logUtility = baseline.isLogUtility

        // The flows of A and B at the baseline policy.
        var flowA = [Double](repeating: 0, count: nState), flowB = flowA, flowResources = flowA
        for s in 0..<nS {
            let z = baseline.income.z[s]
            for a in 0..<na {
                let k = s * na + a
                let assets = baseline.assets[a]
                var fa = 0.0, fb = 0.0, fr = 0.0
                for j in 0..<m {
                    let idx = j * nState + k
                    let c = zero.consumption[idx], p = baseline.prices[j], pi = zero.probabilities[idx]
                    let marginal = logUtility ? 1 / c : pow(c, -gamma)
                    fa += pi * marginal * c * -(dLogPrice[j] - dLogPrice[home])
                    fb += pi * marginal / p * (assets * dR + z * dw + dTransfer[s] - p * c * dLogPrice[home])
                    fr += pi * marginal / p
                }
                flowA[k] = fa; flowB[k] = fb; flowResources[k] = fr
            }
        }
        let substitution = zero.discountedSum(flowA, tolerance: settings.valueTolerance)
        let factorPrices = zero.discountedSum(flowB, tolerance: settings.valueTolerance)
        let transferValue = zero.discountedSum(flowResources, tolerance: settings.valueTolerance)

        // C: the re-optimised values against the baseline savings policy's, at the prices of ±step.
        let fixedUp = try zero.valuesOfThisSavingsPolicy(at: plus, tolerance: settings.valueTolerance)
        let fixedDown = try zero.valuesOfThisSavingsPolicy(at: minus, tolerance: settings.valueTolerance)
        var assetHoldings = [Double](repeating: 0, count: nState), total = assetHoldings
        var distribution = total, homeShareChange = total
        for k in 0..<nState {
            total[k] = (up.exAnte[k] - down.exAnte[k]) / twoStep
            assetHoldings[k] = ((up.exAnte[k] - fixedUp[k]) - (down.exAnte[k] - fixedDown[k])) / twoStep
            distribution[k] = zero.exAnte[k] * (up.masses[k] - down.masses[k]) / twoStep
            let idx = home * nState + k
            homeShareChange[k] = (log(up.probabilities[idx]) - log(down.probabilities[idx])) / twoStep
        }
        return GainsDecomposition(substitution: substitution, factorPrices: factorPrices, assetHoldings: assetHoldings,
                                  distribution: distribution, total: total, homeShareChange: homeShareChange,
                                  transferValue: transferValue, meanLabourIncome: baseline.wage * baseline.income.meanZ,
                                  values: zero.exAnte, masses: zero.masses, step: step)
    }

    /// The transfer a household in income state s receives (per capita, plus any per-state part).
    static func transfer(_ problem: HouseholdProblem, shock s: Int) -> Double {
        problem.transfer(shock: s)
    }

    /// The world at h along the experiment from `baseline` to `changed`: log d(h) = log d + h (log d′ − log d)
    /// and log(1 + t(h)) likewise; h = 0 is the baseline, h = 1 the experiment.
    public static func world(from baseline: World, to changed: World, at h: Double) -> World {
        var w = baseline
        w.tradeCosts = zip(baseline.tradeCosts, changed.tradeCosts).map { d, e in d == e ? d : d * exp(h * log(e / d)) }
        w.tariffs = zip(baseline.tariffs, changed.tariffs).map { t, u in
            t == u ? t : (1 + t) * exp(h * log((1 + u) / (1 + t))) - 1
        }
        return w
    }
}

/// A household solved to converged values, with what the decomposition reads: c, v, a′, π, the ex-ante
/// values, the lotteries of a′ and the stationary distribution.
struct ConvergedHousehold {
    let problem: HouseholdProblem
    let consumption: [Double], values: [Double], assetPolicy: [Double], probabilities: [Double]
    let exAnte: [Double], masses: [Double]
    /// Lottery of each (variety, state)'s a′: the lower grid index and its weight.
    let low: [Int], weight: [Double]

    init(_ problem: HouseholdProblem, settings: GainsDecomposition.Settings) throws {
        self.problem = problem
        let na = problem.assets.count, nS = problem.income.count
        let solver = HouseholdSolver(assets: na, shocks: nS, varieties: problem.varieties)
        let stats = try solver.solveValues(problem, policyTolerance: settings.policyTolerance,
                                           valueTolerance: settings.valueTolerance)
        guard stats.converged else {
            throw AnalysisError("decomposition: the household values do not converge to \(settings.valueTolerance) within \(stats.iterations) steps")
        }
        consumption = solver.consumption; values = solver.values
        assetPolicy = solver.assetPolicy; probabilities = solver.choiceProbabilities
        exAnte = AnalysedHousehold.exAnteValues(problem: problem, values: values)
        let distribution = StationaryDistribution(assets: na, shocks: nS)
        try distribution.solve(household: solver, transition: problem.income.transition,
                               tolerance: settings.distributionTolerance)
        masses = distribution.masses
        var low = [Int](repeating: 0, count: assetPolicy.count), weight = [Double](repeating: 1, count: assetPolicy.count)
        for idx in assetPolicy.indices {
            (low[idx], weight[idx]) = Self.lottery(assetPolicy[idx], grid: problem.assets)
        }
        self.low = low; self.weight = weight
    }

    /// HAT-SPEC §2.1 step 6: h the first grid index with a_h ≥ a′, l = max(h − 1, 0), ω the weight on l.
    static func lottery(_ next: Double, grid: [Double]) -> (Int, Double) {
        var lo = 0, hi = grid.count - 1
        if next <= grid[0] { return (0, 1) }
        if next >= grid[hi] { return (hi - 1, 0) }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if grid[mid] >= next { hi = mid } else { lo = mid }
        }
        // grid[lo] < next ≤ grid[hi], hi = lo + 1.
        return (lo, 1 - (next - grid[lo]) / (grid[hi] - grid[lo]))
    }

    /// E Σ_t β^t f(a_t, s_t) from each state under this policy: x = f + β T x, with T the transition of
    /// choices, lotteries and income. Iterated with McQueen–Porteus bounds (T is stochastic).
    func discountedSum(_ flow: [Double], tolerance: Double) -> [Double] {
        let beta = problem.beta
        var x = flow.map { $0 / (1 - beta) }
        for _ in 0..<100_000 {
            let next = zip(flow, expected(x)).map { $0 + beta * $1 }
            var lowest = Double.infinity, highest = -Double.infinity
            for k in x.indices { let d = next[k] - x[k]; lowest = min(lowest, d); highest = max(highest, d) }
            let factor = beta / (1 - beta)
            x = next
            if factor * 0.5 * (highest - lowest) <= tolerance {
                let shift = factor * 0.5 * (lowest + highest)
                return x.map { $0 + shift }
            }
        }
        return x
    }

    /// (T x)(a, s) = Σ_j π_j Σ_s′ P(s, s′) [ω x(l, s′) + (1 − ω) x(l + 1, s′)].
    func expected(_ x: [Double]) -> [Double] {
        let na = problem.assets.count, nS = problem.income.count, nState = na * nS
        let bar = continuation(x)
        var out = [Double](repeating: 0, count: nState)
        for j in 0..<problem.varieties {
            for k in 0..<nState {
                out[k] += probabilities[j * nState + k] * lotteryValue(bar, j * nState + k, shock: k / na)
            }
        }
        return out
    }

    /// x̄(a′, s) = Σ_s′ P(s, s′) x(a′, s′).
    func continuation(_ x: [Double]) -> [Double] {
        let na = problem.assets.count, nS = problem.income.count
        var bar = [Double](repeating: 0, count: na * nS)
        for s in 0..<nS {
            for t in 0..<nS {
                let p = problem.income.transition[s * nS + t]
                if p == 0 { continue }
                for a in 0..<na { bar[s * na + a] += p * x[t * na + a] }
            }
        }
        return bar
    }

    @inline(__always) func lotteryValue(_ bar: [Double], _ idx: Int, shock s: Int) -> Double {
        let na = problem.assets.count
        let l = low[idx], w = weight[idx]
        let upper = min(l + 1, na - 1)
        return w * bar[s * na + l] + (1 - w) * bar[s * na + upper]
    }

    /// The converged ex-ante values at `other`'s prices of this household's savings policy a′ (the choices
    /// among varieties re-made, as the logit does): v_j = u(c_j) + β E Φ(a′_j), c_j from the budget at
    /// the other prices, Φ = σ log Σ_j exp((ψ_j + v_j)/σ).
    func valuesOfThisSavingsPolicy(at other: HouseholdProblem, tolerance: Double) throws -> [Double] {
        let na = problem.assets.count, nS = problem.income.count, nState = na * nS, m = problem.varieties
        let gamma = other.gamma, logUtility = other.isLogUtility, beta = other.beta
        var utility = [Double](repeating: 0, count: nState * m)
        for j in 0..<m {
            for s in 0..<nS {
                let resources = { (a: Int) in other.rate * other.assets[a] + other.wage * other.income.z[s]
                                  + GainsDecomposition.transfer(other, shock: s) }
                for a in 0..<na {
                    let idx = j * nState + s * na + a
                    let c = (resources(a) - assetPolicy[idx]) / other.prices[j]
                    guard c > 0 else {
                        throw AnalysisError("decomposition: the baseline savings policy is infeasible at the changed prices (use a smaller step)")
                    }
                    utility[idx] = logUtility ? log(c) : pow(c, 1 - gamma) / (1 - gamma)
                }
            }
        }
        var phi = exAnte
        let factor = beta / (1 - beta)
        for _ in 0..<100_000 {
            let bar = continuation(phi)
            var next = [Double](repeating: 0, count: nState)
            for k in 0..<nState {
                let s = k / na
                next[k] = TasteShocks.inclusiveValue(varieties: m, sigma: other.sigma) { j in
                    let idx = j * nState + k
                    return utility[idx] + beta * lotteryValue(bar, idx, shock: s) + (j == other.home ? other.homeQuality[s] : 0)
                }
            }
            var lowest = Double.infinity, highest = -Double.infinity
            for k in 0..<nState { let d = next[k] - phi[k]; lowest = min(lowest, d); highest = max(highest, d) }
            phi = next
            if factor * 0.5 * (highest - lowest) <= tolerance {
                let shift = factor * 0.5 * (lowest + highest)
                return phi.map { $0 + shift }
            }
        }
        throw AnalysisError("decomposition: the values of the baseline savings policy do not converge")
    }
}
