import COpenBLAS
import Foundation

/// Everything one country's household problem needs (HAT-SPEC §1.2, §1.5, §2): the country-scaled grid,
/// taste-shock scale and quality shifter, and the prices it faces.
public struct HouseholdProblem: Sendable {
    /// Asset grid (state and choice grid), N_a points on [−φ A_i, ā A_i].
    public var assets: [Double]
    public var income: IncomeProcess
    /// CRRA coefficient γ; γ = 1 is log utility.
    public var gamma: Double
    /// Discount factor β.
    public var beta: Double
    /// Country-scaled taste-shock scale σ_i = σε A_i^(1−γ).
    public var sigma: Double
    /// Index of the home variety (the one that carries the quality shifter).
    public var home: Int
    /// ψ_i(z_s, home) for each income state s: ψ̃ A_i^(1−γ) ℓ_s.
    public var homeQuality: [Double]
    /// Buyer prices p_ij of every variety j.
    public var prices: [Double]
    /// Own wage w_i.
    public var wage: Double
    /// Gross interest rate R_i.
    public var rate: Double
    /// Lump-sum transfer τ_i per household.
    public var transfer: Double = 0
    /// Proportional multiplier λτ on period resources (equivalent variation).
    public var resourceScale: Double = 1

    public init(assets: [Double], income: IncomeProcess, gamma: Double, beta: Double, sigma: Double,
                home: Int, homeQuality: [Double], prices: [Double], wage: Double, rate: Double,
                transfer: Double = 0, resourceScale: Double = 1) {
        self.assets = assets; self.income = income; self.gamma = gamma; self.beta = beta
        self.sigma = sigma; self.home = home; self.homeQuality = homeQuality; self.prices = prices
        self.wage = wage; self.rate = rate; self.transfer = transfer; self.resourceScale = resourceScale
    }

    public var varieties: Int { prices.count }
    /// The author's code treats γ ≈ 1 (Julia `isapprox`, relative 1.5e-8) as log utility.
    public var isLogUtility: Bool { abs(gamma - 1) <= 1.4901161193847656e-8 }
}

/// N_a points, equally spaced and inclusive, on [−φ A, ā A] (HAT-SPEC §1.4).
public func assetGrid(points: Int, borrowingLimit phi: Double, top amax: Double, tfp: Double) -> [Double] {
    let lo = -phi * tfp, hi = amax * tfp
    return (0..<points).map { i in
        i == points - 1 ? hi : lo + (hi - lo) * Double(i) / Double(points - 1)
    }
}

/// Why a household solve failed: a state where the kernel produced something it must not.
public enum HouseholdError: Error, CustomStringConvertible {
    case nonPositiveConsumption(state: Int, shock: Int, variety: Int, iteration: Int, value: Double)
    case nonMonotoneGrid(shock: Int, variety: Int, iteration: Int)

    public var description: String {
        switch self {
        case let .nonPositiveConsumption(a, s, j, it, c):
            return "household: consumption \(c) at asset \(a + 1), shock \(s + 1), variety \(j + 1), iteration \(it) (prices outside the feasible region)"
        case let .nonMonotoneGrid(s, j, it):
            return "household: endogenous asset grid not increasing at shock \(s + 1), variety \(j + 1), iteration \(it)"
        }
    }
}

/// How a household solve ended.
public struct HouseholdSolveStats: Sendable {
    /// Coleman steps taken in the loop (the final extra step is not counted).
    public var iterations: Int
    public var converged: Bool
    /// max |c⁽ⁿ⁺¹⁾ − c⁽ⁿ⁾| at the last loop step.
    public var policyChange: Double

    public init(iterations: Int, converged: Bool, policyChange: Double) {
        self.iterations = iterations; self.converged = converged; self.policyChange = policyChange
    }
}

/// Preallocated workspace and solver for one country's household problem (HAT-SPEC §2).
///
/// Arrays are laid out `[variety][shock][asset]` (asset fastest, unit stride in the kernels); index
/// `(j * S + s) * N_a + a`. The workspace keeps its last solution, which warm-starts the next solve.
public final class HouseholdSolver {
    public let assetCount: Int, shockCount: Int, varietyCount: Int
    let nState: Int, nAll: Int

    // Double-buffered iterates: consumption, c^−γ (carried to avoid a second power), values.
    private var cBuf: [UnsafeMutablePointer<Double>]
    private var cpowBuf: [UnsafeMutablePointer<Double>]
    private var vBuf: [UnsafeMutablePointer<Double>]
    private let expo: UnsafeMutablePointer<Double>      // softmax numerators / choice probabilities
    /// Asset policy a′ of the last Coleman step and its lottery on the grid.
    let aNextPtr: UnsafeMutablePointer<Double>
    let lotteryLow: UnsafeMutablePointer<Int32>
    let lotteryWeight: UnsafeMutablePointer<Double>
    /// Converged choice probabilities π*.
    let piPtr: UnsafeMutablePointer<Double>
    // [shock][asset] scratch
    private let mx, sumExp, acc, m, expect, einv, phi, phiBar, cash: UnsafeMutablePointer<Double>
    // [asset] scratch
    private let aTilde, invDiff: UnsafeMutablePointer<Double>

    private var solutionC = 0, solutionV = 0
    public private(set) var hasSolution = false

    public init(assets: Int, shocks: Int, varieties: Int) {
        assetCount = assets; shockCount = shocks; varietyCount = varieties
        nState = assets * shocks
        nAll = nState * varieties
        func alloc(_ n: Int) -> UnsafeMutablePointer<Double> {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        cBuf = [alloc(nAll), alloc(nAll)]
        cpowBuf = [alloc(nAll), alloc(nAll)]
        vBuf = [alloc(nAll), alloc(nAll)]
        expo = alloc(nAll); aNextPtr = alloc(nAll); lotteryWeight = alloc(nAll); piPtr = alloc(nAll)
        lotteryLow = UnsafeMutablePointer<Int32>.allocate(capacity: nAll)
        lotteryLow.initialize(repeating: 0, count: nAll)
        mx = alloc(nState); sumExp = alloc(nState); acc = alloc(nState); m = alloc(nState)
        expect = alloc(nState); einv = alloc(nState); phi = alloc(nState); phiBar = alloc(nState)
        cash = alloc(nState)
        aTilde = alloc(assets); invDiff = alloc(assets)
    }

    deinit {
        for p in cBuf + cpowBuf + vBuf { p.deallocate() }
        for p in [expo, aNextPtr, lotteryWeight, piPtr, mx, sumExp, acc, m, expect, einv, phi, phiBar, cash,
                  aTilde, invDiff] { p.deallocate() }
        lotteryLow.deallocate()
    }

    // MARK: - Results (copies)

    public var consumption: [Double] { Array(UnsafeBufferPointer(start: cBuf[solutionC], count: nAll)) }
    /// The converged consumption buffer itself (valid until the next solve), for in-module readers.
    var consumptionPointer: UnsafeMutablePointer<Double> { cBuf[solutionC] }
    public var values: [Double] { Array(UnsafeBufferPointer(start: vBuf[solutionV], count: nAll)) }
    public var assetPolicy: [Double] { Array(UnsafeBufferPointer(start: aNextPtr, count: nAll)) }
    public var choiceProbabilities: [Double] { Array(UnsafeBufferPointer(start: piPtr, count: nAll)) }

    /// Index of (variety j, shock s, asset a) in the result arrays.
    @inline(__always) public func index(variety j: Int, shock s: Int, asset a: Int) -> Int {
        (j * shockCount + s) * assetCount + a
    }

    /// Forget the stored solution so that the next solve starts cold.
    public func reset() { hasSolution = false }

    // MARK: - Solve

    /// Policy-function iteration exactly as HAT-SPEC §2.2: Coleman steps until max|Δc| < `tolerance`
    /// (at most `maxIterations`), then one final extra step from the last input consumption and the last
    /// output value, and π* = softmax((ψ + v*)/σ).
    ///
    /// With `warmStart` and a stored solution, iteration starts from it instead of the cold guess.
    @discardableResult
    public func solve(_ problem: HouseholdProblem, tolerance: Double, maxIterations: Int = 500,
                      warmStart: Bool = false) throws -> HouseholdSolveStats {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        var ci = 0, vi = 0
        if warmStart && hasSolution {
            ci = solutionC; vi = solutionV
        } else {
            try initialGuess(problem, c: cBuf[0], cpow: cpowBuf[0], v: vBuf[0])
        }
        hasSolution = false
        var stats = HouseholdSolveStats(iterations: 0, converged: false, policyChange: .infinity)
        for iteration in 1...max(maxIterations, 1) {
            let change = try colemanStep(problem, cIn: ci, vIn: vi, cOut: 1 - ci, vOut: 1 - vi, iteration: iteration)
            stats.iterations = iteration
            stats.policyChange = change
            if change < tolerance { stats.converged = true; break }
            if iteration == maxIterations { break }
            ci = 1 - ci; vi = 1 - vi
        }
        // Final extra step K(c⁽⁰⁾, v⁽¹⁾): last input consumption, last output value.
        _ = try colemanStep(problem, cIn: ci, vIn: 1 - vi, cOut: 1 - ci, vOut: vi, iteration: stats.iterations + 1)
        solutionC = 1 - ci; solutionV = vi
        choiceProbabilities(problem, v: vBuf[solutionV], into: piPtr)
        hasSolution = true
        return stats
    }

    /// HAT-SPEC §2.2's guess: stay at the borrowing limit. When that consumption is not positive the prices
    /// are infeasible (the interest on the debt exceeds the income): say so, as "iteration 0".
    private func initialGuess(_ pr: HouseholdProblem, c: UnsafeMutablePointer<Double>,
                              cpow: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>) throws {
        let na = assetCount, a0 = pr.assets[0]
        let v0 = -1 / (1 - pr.beta)
        for j in 0..<varietyCount {
            for s in 0..<shockCount {
                let c0 = ((pr.rate - 1) * a0 + pr.wage * pr.income.z[s]) / pr.prices[j]
                guard c0 > 0 else {
                    throw HouseholdError.nonPositiveConsumption(state: 0, shock: s, variety: j, iteration: 0, value: c0)
                }
                let cp = pr.isLogUtility ? 1 / c0 : exp(-pr.gamma * log(c0))
                let base = (j * shockCount + s) * na
                for a in 0..<na { c[base + a] = c0; cpow[base + a] = cp; v[base + a] = v0 }
            }
        }
    }

    /// Max-shifted softmax over varieties of (ψ + v)/σ (uses the `mx`, `expo`, `sumExp` scratch buffers).
    private func choiceProbabilities(_ pr: HouseholdProblem, v: UnsafeMutablePointer<Double>,
                                     into out: UnsafeMutablePointer<Double>) {
        softmaxPieces(pr, v: v)
        for j in 0..<varietyCount {
            for s in 0..<shockCount {
                let base = (j * shockCount + s) * assetCount
                let rs = s * assetCount
                for a in 0..<assetCount { out[base + a] = expo[base + a] / sumExp[rs + a] }
            }
        }
    }

    /// Step 1 of §2.1: mx = max_j(ψ + v), expo = exp((ψ + v − mx)/σ), sumExp = Σ_j expo.
    @inline(__always)
    private func softmaxPieces(_ pr: HouseholdProblem, v: UnsafeMutablePointer<Double>) {
        let na = assetCount, ns = nState
        let invSigma = 1 / pr.sigma
        for k in 0..<ns { mx[k] = -Double.infinity; sumExp[k] = 0 }
        for j in 0..<varietyCount {
            for s in 0..<shockCount {
                let psi = j == pr.home ? pr.homeQuality[s] : 0
                let vj = v + (j * shockCount + s) * na, mrow = mx + s * na
                for a in 0..<na { mrow[a] = max(mrow[a], psi + vj[a]) }
            }
        }
        for j in 0..<varietyCount {
            for s in 0..<shockCount {
                let psi = j == pr.home ? pr.homeQuality[s] : 0
                let e = expo + (j * shockCount + s) * na, vj = v + (j * shockCount + s) * na
                let mrow = mx + s * na
                for a in 0..<na { e[a] = (psi + vj[a] - mrow[a]) * invSigma }
            }
        }
        VectorMath.exp(expo, count: nAll)
        for j in 0..<varietyCount {
            for s in 0..<shockCount {
                let e = expo + (j * shockCount + s) * na, srow = sumExp + s * na
                for a in 0..<na { srow[a] += e[a] }
            }
        }
    }

    /// One Coleman step K: (c, v) ↦ (c′, v′, a′) of HAT-SPEC §2.1. Returns max|c′ − c|.
    private func colemanStep(_ pr: HouseholdProblem, cIn: Int, vIn: Int, cOut: Int, vOut: Int,
                             iteration: Int) throws -> Double {
        let na = assetCount, ns = nState, nS = shockCount
        let c0 = cBuf[cIn], cp0 = cpowBuf[cIn], v0 = vBuf[vIn]
        let c1 = cBuf[cOut], cp1 = cpowBuf[cOut], v1 = vBuf[vOut]
        let gamma = pr.gamma, beta = pr.beta, sigma = pr.sigma, lam = pr.resourceScale
        let logUtility = pr.isLogUtility

        // 1–2. Choice probabilities from the old v; m = Σ_j π_j c_j^−γ / p_j; Φ = σ log Σ_j e^{(ψ+v)/σ}.
        softmaxPieces(pr, v: v0)
        for k in 0..<ns { acc[k] = 0 }
        for j in 0..<varietyCount {
            let invP = 1 / pr.prices[j]
            for s in 0..<nS {
                let base = (j * nS + s) * na, rs = s * na
                for a in 0..<na { acc[rs + a] += expo[base + a] * cp0[base + a] * invP }
            }
        }
        for k in 0..<ns { m[k] = acc[k] / sumExp[k]; phi[k] = sumExp[k] }
        VectorMath.log(phi, count: ns)
        for k in 0..<ns { phi[k] = mx[k] + sigma * phi[k] }
        // 3. E[s][a′] = βRλ Σ_s′ P[s][s′] m[s′][a′]; Φ̄[s][a′] = Σ_s′ P[s][s′] Φ[s′][a′] (S×S · S×N_a).
        pr.income.transition.withUnsafeBufferPointer { p in
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nS), Int32(na), Int32(nS),
                        beta * pr.rate * lam, p.baseAddress, Int32(nS), m, Int32(na), 0, expect, Int32(na))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nS), Int32(na), Int32(nS),
                        1, p.baseAddress, Int32(nS), phi, Int32(na), 0, phiBar, Int32(na))
        }
        // 4. E^(−1/γ), shared by all varieties (p_j is factored out).
        let invGamma = 1 / gamma
        for k in 0..<ns { einv[k] = expect[k] }
        VectorMath.pow(einv, count: ns, power: -invGamma)
        // Period resources λ(R a + w z_s) + τ on the grid.
        let z = pr.income.z
        pr.assets.withUnsafeBufferPointer { grid in
            for s in 0..<nS {
                let income = lam * pr.wage * z[s] + pr.transfer
                for a in 0..<na { cash[s * na + a] = lam * pr.rate * grid[a] + income }
            }
        }

        // Reductions on integers so that they vectorise (floating max/sum reductions do not without
        // fast-math): for non-negative doubles the bit patterns order like the values, and NaN sorts
        // above +inf, so a NaN change surfaces as a NaN maximum.
        var maxChangeBits: UInt64 = 0
        var infeasible = 0
        try pr.assets.withUnsafeBufferPointer { gridBuf in
            let grid = gridBuf.baseAddress!
            let aMin = grid[0], aMax = grid[na - 1]
            let invRl = 1 / (pr.rate * lam)
            for j in 0..<varietyCount {
                let pj = pr.prices[j], invP = 1 / pj
                let scale = logUtility ? 1.0 : exp((1 - invGamma) * log(pj))   // p_j^(1−1/γ)
                for s in 0..<nS {
                    let rs = s * na, base = (j * nS + s) * na
                    let shift = lam * pr.wage * z[s] + pr.transfer
                    // 4. Endogenous grid ã: the current assets from which a′ = grid[a] is optimal.
                    for a in 0..<na { aTilde[a] = (scale * einv[rs + a] + grid[a] - shift) * invRl }
                    var increasing = true
                    for a in 0..<(na - 1) {
                        let d = aTilde[a + 1] - aTilde[a]
                        if !(d > 0) { increasing = false }
                        invDiff[a] = 1 / d
                    }
                    if !increasing { throw HouseholdError.nonMonotoneGrid(shock: s, variety: j, iteration: iteration) }
                    // 5. Linear interpolation of (ã, grid) at the grid with flat extrapolation: left of ã₁ the
                    // borrowing constraint binds, right of ã_N saving is capped at the grid top. The interval
                    // found is also the lottery of a′ on the grid (low index, weight on it).
                    let lo = aTilde[0], hi = aTilde[na - 1]
                    let aOut = aNextPtr + base, lowOut = lotteryLow + base, weightOut = lotteryWeight + base
                    var a = 0
                    while a < na && grid[a] <= lo {                 // constrained: a′ = a_1
                        aOut[a] = aMin; lowOut[a] = 0; weightOut[a] = 1; a += 1
                    }
                    var end = na
                    while end > a && grid[end - 1] >= hi {          // capped: a′ = a_N
                        end -= 1
                        aOut[end] = aMax; lowOut[end] = Int32(na - 2); weightOut[end] = 0
                    }
                    var i = 0
                    while a < end {
                        let x = grid[a]
                        while aTilde[i + 1] < x { i += 1 }
                        let t = (x - aTilde[i]) * invDiff[i]
                        aOut[a] = grid[i] + t * (grid[i + 1] - grid[i])
                        lowOut[a] = Int32(i); weightOut[a] = 1 - t
                        a += 1
                    }
                    // New consumption from the budget.
                    let cOut = c1 + base, cashRow = cash + rs
                    for a in 0..<na { cOut[a] = (cashRow[a] - aOut[a]) * invP }
                }
            }
        }
        // c^−γ and u(c) over all states at once (vector exp/log), then the expected continuation value
        // through each state's lottery: v = u(c) + β (ω Φ̄[l] + (1−ω) Φ̄[l+1]).
        for k in 0..<nAll { cp1[k] = c1[k] }
        if logUtility {
            for k in 0..<nAll { v1[k] = c1[k]; cp1[k] = 1 / c1[k] }
            VectorMath.log(v1, count: nAll)
        } else {
            let invOneMinusGamma = 1 / (1 - gamma)
            VectorMath.pow(cp1, count: nAll, power: -gamma)
            for k in 0..<nAll { v1[k] = c1[k] * cp1[k] * invOneMinusGamma }
        }
        for j in 0..<varietyCount {
            for s in 0..<nS {
                let base = (j * nS + s) * na
                let vOut = v1 + base, low = lotteryLow + base, weight = lotteryWeight + base, bar = phiBar + s * na
                for a in 0..<na {
                    let l = Int(low[a]), w = weight[a]
                    vOut[a] += beta * (w * bar[l] + (1 - w) * bar[l + 1])
                }
            }
        }
        for k in 0..<nAll { maxChangeBits = max(maxChangeBits, abs(c1[k] - c0[k]).bitPattern) }
        for k in 0..<nAll { infeasible &+= c1[k] > 0 ? 0 : 1 }    // NaN counts too
        let maxChange = Double(bitPattern: maxChangeBits)
        if infeasible > 0 || !maxChange.isFinite {
            // Locate the offending state for the error message (cold path).
            for k in 0..<nAll where !(c1[k] > 0) || !c1[k].isFinite {
                let j = k / ns, s = (k % ns) / na, a = k % na
                throw HouseholdError.nonPositiveConsumption(state: a, shock: s, variety: j, iteration: iteration,
                                                            value: c1[k])
            }
        }
        return maxChange
    }
}
