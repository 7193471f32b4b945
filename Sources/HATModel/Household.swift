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
    /// Whether this household has log utility (see `isLogUtility(gamma:)`).
    public var isLogUtility: Bool { Self.isLogUtility(gamma: gamma) }

    /// The one decision of whether a CRRA γ means log utility, used by the household kernel, the country
    /// scaling A_i^(1−γ), the preflight checks and the planner, so that they never disagree.
    ///
    /// γ counts as 1 when |γ − 1| ≤ 2^−26 ≈ 1.49e-8, as the author's code tests `γ ≈ 1.0` (Julia's
    /// `isapprox`, relative tolerance √eps). A tolerance rather than `γ == 1` because CRRA utility
    /// c^(1−γ)/(1−γ) with γ within 1e-8 of 1 is log c plus a constant of order 1/(1−γ), which would drown
    /// the values' digits in the softmax. The shipped log configurations give γ = 1 exactly, the others
    /// γ ≥ 1.3, so either rule decides them the same way.
    public static func isLogUtility(gamma: Double) -> Bool { abs(gamma - 1) <= 1.4901161193847656e-8 }
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
    /// Another block of a split grid failed in this step (it reports where).
    case failedInAnotherBlock(iteration: Int)

    /// A failure as numbers that order like an unsplit solve's loops: (kind, j, s, a, value), kind 0 for a
    /// non-monotone grid (found first, row by row), 1 for a non-positive consumption; no failure sorts last.
    static func key(_ error: HouseholdError?, iteration: Int) -> [Double] {
        switch error {
        case let .nonMonotoneGrid(s, j, _)?: return [0, Double(j), Double(s), 0, 0]
        case let .nonPositiveConsumption(a, s, j, _, c)?: return [1, Double(j), Double(s), Double(a), c]
        default: return [.infinity, 0, 0, 0, 0]
        }
    }

    init(key: [Double], iteration: Int) {
        switch key[0] {
        case 0: self = .nonMonotoneGrid(shock: Int(key[2]), variety: Int(key[1]), iteration: iteration)
        case 1: self = .nonPositiveConsumption(state: Int(key[3]), shock: Int(key[2]), variety: Int(key[1]),
                                               iteration: iteration, value: key[4])
        default: self = .failedInAnotherBlock(iteration: iteration)
        }
    }

    public var description: String {
        switch self {
        case let .nonPositiveConsumption(a, s, j, it, c):
            return "household: consumption \(c) at asset \(a + 1), shock \(s + 1), variety \(j + 1), iteration \(it) (prices outside the feasible region)"
        case let .nonMonotoneGrid(s, j, it):
            return "household: endogenous asset grid not increasing at shock \(s + 1), variety \(j + 1), iteration \(it)"
        case let .failedInAnotherBlock(it):
            return "household: another block of the grid failed at iteration \(it)"
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

/// The buffers a household solve needs only while it runs: the second slot of the double-buffered
/// consumption and values, both slots of the carried c^−γ, and the lotteries of a′ (read by the distribution
/// right after the solve). Solvers of the countries one rank solves one after another share one scratch, so
/// memory per rank is 4 arrays of N_a·S·M per country (c, v, a′, π) plus one scratch, not 10 per country.
public final class HouseholdScratch {
    public let assetCount: Int, shockCount: Int, varietyCount: Int
    /// Spare consumption and value buffers: a solve whose solution lands here swaps it with its own.
    var cSpare: UnsafeMutablePointer<Double>
    var vSpare: UnsafeMutablePointer<Double>
    let cpow: [UnsafeMutablePointer<Double>]
    let lotteryLow: UnsafeMutablePointer<Int32>
    let lotteryWeight: UnsafeMutablePointer<Double>

    public init(assets: Int, shocks: Int, varieties: Int) {
        assetCount = assets; shockCount = shocks; varietyCount = varieties
        let n = assets * shocks * varieties
        cSpare = allocateZeroed(n); vSpare = allocateZeroed(n)
        cpow = [allocateZeroed(n), allocateZeroed(n)]
        lotteryWeight = allocateZeroed(n)
        lotteryLow = .allocate(capacity: n)
        lotteryLow.initialize(repeating: 0, count: n)
    }

    deinit {
        for p in [cSpare, vSpare, lotteryWeight] + cpow { p.deallocate() }
        lotteryLow.deallocate()
    }
}

func allocateZeroed(_ n: Int) -> UnsafeMutablePointer<Double> {
    let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
    p.initialize(repeating: 0, count: n)
    return p
}

/// Preallocated workspace and solver for one country's household problem (HAT-SPEC §2).
///
/// Arrays are laid out `[variety][shock][asset]` (asset fastest, unit stride in the kernels); index
/// `(j * S + s) * N_a + a`. The workspace keeps its last solution (c, v, a′, π), which warm-starts the next
/// solve; the buffers needed only during a solve live in a `HouseholdScratch`, shared between the solvers
/// that run one after another on a rank.
public final class HouseholdSolver {
    public let assetCount: Int, shockCount: Int, varietyCount: Int
    let nState: Int, nAll: Int
    let scratch: HouseholdScratch

    // Double-buffered iterates: consumption, c^−γ (carried to avoid a second power), values. Slot 0 of c and
    // v is this solver's own (where a finished solution always ends up); slot 1 and c^−γ are the scratch's,
    // bound at the start of every solve (another solver may have swapped the spare buffers since).
    private var cBuf: [UnsafeMutablePointer<Double>]
    private var cpowBuf: [UnsafeMutablePointer<Double>]
    private var vBuf: [UnsafeMutablePointer<Double>]
    /// Asset policy a′ of the last recorded Coleman step and its lottery on the grid (the lottery in scratch).
    let aNextPtr: UnsafeMutablePointer<Double>
    var lotteryLow: UnsafeMutablePointer<Int32> { scratch.lotteryLow }
    var lotteryWeight: UnsafeMutablePointer<Double> { scratch.lotteryWeight }
    /// Converged choice probabilities π*.
    let piPtr: UnsafeMutablePointer<Double>
    // [shock][asset] scratch
    private let m, expect, einv, phi, phiBar, cash, barBase, barStep: UnsafeMutablePointer<Double>
    // [asset] scratch
    private let aTilde, invDiff, gridStep: UnsafeMutablePointer<Double>
    /// [variety] scratch: 1/p_j of the step's prices (a division hoisted out of the expectation's inner loop).
    private let invPrice: UnsafeMutablePointer<Double>

    public private(set) var hasSolution = false

    /// Without `scratch`, the solver gets its own.
    public init(assets: Int, shocks: Int, varieties: Int, scratch: HouseholdScratch? = nil) {
        assetCount = assets; shockCount = shocks; varietyCount = varieties
        nState = assets * shocks
        nAll = nState * varieties
        let sc = scratch ?? HouseholdScratch(assets: assets, shocks: shocks, varieties: varieties)
        precondition(sc.assetCount == assets && sc.shockCount == shocks && sc.varietyCount == varieties)
        self.scratch = sc
        let alloc = allocateZeroed
        cBuf = [alloc(nAll), sc.cSpare]
        cpowBuf = sc.cpow
        vBuf = [alloc(nAll), sc.vSpare]
        aNextPtr = alloc(nAll); piPtr = alloc(nAll)
        m = alloc(nState)
        expect = alloc(nState); einv = alloc(nState); phi = alloc(nState); phiBar = alloc(nState)
        cash = alloc(nState); barBase = alloc(nState); barStep = alloc(nState)
        aTilde = alloc(assets); invDiff = alloc(assets); gridStep = alloc(assets)
        invPrice = alloc(varieties)
    }

    deinit {
        for p in [cBuf[0], vBuf[0], aNextPtr, piPtr, m, expect, einv, phi, phiBar, cash, barBase, barStep,
                  aTilde, invDiff, gridStep, invPrice] { p.deallocate() }
    }

    /// Bind the scratch's current spare buffers as slot 1.
    private func bindScratch() {
        cBuf[1] = scratch.cSpare; vBuf[1] = scratch.vSpare
    }

    /// Make slot `c`/`v` the solver's own slot 0, swapping buffers with the scratch when the result landed
    /// in slot 1.
    private func keep(c: Int, v: Int) {
        if c == 1 { cBuf.swapAt(0, 1); scratch.cSpare = cBuf[1] }
        if v == 1 { vBuf.swapAt(0, 1); scratch.vSpare = vBuf[1] }
    }

    // MARK: - Results (copies)

    public var consumption: [Double] { Array(UnsafeBufferPointer(start: cBuf[0], count: nAll)) }
    /// The converged consumption buffer itself (valid until the next solve), for in-module readers.
    var consumptionPointer: UnsafeMutablePointer<Double> { cBuf[0] }
    public var values: [Double] { Array(UnsafeBufferPointer(start: vBuf[0], count: nAll)) }
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
    /// With `blocks`, this solver computes only the income states `blocks.ownedShocks` and exchanges with the
    /// solvers of the other blocks inside every step (see `GridBlockExchange`); results outside the owned
    /// rows are then not computed here.
    @discardableResult
    public func solve(_ problem: HouseholdProblem, tolerance: Double, maxIterations: Int = 500,
                      warmStart: Bool = false, blocks: GridBlockExchange? = nil) throws -> HouseholdSolveStats {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        bindScratch()
        var ci = 0, vi = 0
        if warmStart && hasSolution {
            // c^−γ of the stored policy, with the kernel's own power: bitwise what the last step carried.
            carryMarginalUtility(slot: 0, gamma: problem.gamma)
        } else {
            try initialGuess(problem, c: cBuf[0], cpow: cpowBuf[0], v: vBuf[0])
        }
        hasSolution = false
        var stats = HouseholdSolveStats(iterations: 0, converged: false, policyChange: .infinity)
        for iteration in 1...max(maxIterations, 1) {
            let change = try colemanStep(problem, cIn: ci, vIn: vi, cOut: 1 - ci, vOut: 1 - vi, iteration: iteration,
                                         blocks: blocks, record: false)
            stats.iterations = iteration
            stats.policyChange = change
            if change < tolerance { stats.converged = true; break }
            if iteration == maxIterations { break }
            ci = 1 - ci; vi = 1 - vi
        }
        // Final extra step K(c⁽⁰⁾, v⁽¹⁾): last input consumption, last output value.
        _ = try colemanStep(problem, cIn: ci, vIn: 1 - vi, cOut: 1 - ci, vOut: vi, iteration: stats.iterations + 1,
                            blocks: blocks, record: true)
        keep(c: 1 - ci, v: vi)
        choiceProbabilities(problem, v: vBuf[0], into: piPtr, shocks: blocks?.ownedShocks ?? 0..<shockCount)
        hasSolution = true
        return stats
    }

    /// c^−γ of the consumption in `slot`, computed as the kernel carries it (vector power; 1/c for log).
    private func carryMarginalUtility(slot: Int, gamma: Double) {
        let c = cBuf[slot], cp = cpowBuf[slot]
        cp.update(from: c, count: nAll)
        if HouseholdProblem.isLogUtility(gamma: gamma) {
            for k in 0..<nAll { cp[k] = 1 / c[k] }
        } else {
            VectorMath.pow(cp, count: nAll, power: -gamma)
        }
    }

    /// Make `policy` the stored solution (e.g. from a checkpoint), so that the next `solve(warmStart: true)`
    /// starts from it, exactly as it would have from the same policy computed in this process. No γ is
    /// needed: a warm start always recomputes c^−γ from the stored c with the kernel's vector power and the
    /// γ of the problem it solves. a′, the lotteries and π are not restored: `solve` recomputes them before
    /// they are read.
    public func load(_ policy: HouseholdPolicy) {
        precondition(policy.consumption.count == nAll && policy.values.count == nAll)
        policy.consumption.withUnsafeBufferPointer { cBuf[0].update(from: $0.baseAddress!, count: nAll) }
        policy.values.withUnsafeBufferPointer { vBuf[0].update(from: $0.baseAddress!, count: nAll) }
        hasSolution = true
    }

    /// One Coleman step K (HAT-SPEC §2.1) from outside: (c, v) ↦ (c′, v′, a′), the household's backward
    /// step. `solve` is a loop around the same kernel. Used for MPCs (one step with a transfer τ from the
    /// converged policy), welfare (steps with a resource multiplier) and tests.
    ///
    /// The step runs in this solver's buffers: its stored solution is replaced by the step's output (c′, v′,
    /// a′ and the lotteries; π is that of v′), so `consumption`, `values`, `assetPolicy` and
    /// `choiceProbabilities` read the step afterwards, and a later `solve(warmStart: true)` starts from it.
    /// With `blocks`, only the rows of `blocks.ownedShocks` of the returned arrays are computed here; the
    /// other rows hold whatever the buffers held.
    ///
    /// c^−γ of the input is computed with the kernel's vector power, as every loop step after the first
    /// carries it; the loop's cold guess computes it with the scalar power. So `solve` from the cold guess
    /// and public steps from that guess agree to the last bit for log utility and to about one ulp of
    /// c^−γ otherwise; from any policy the loop produced, they agree bitwise.
    public func step(_ problem: HouseholdProblem, from policy: HouseholdPolicy,
                     blocks: GridBlockExchange? = nil) throws -> HouseholdStep {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        precondition(policy.consumption.count == nAll && policy.values.count == nAll)
        hasSolution = false
        bindScratch()
        let c = cBuf[0], v = vBuf[0]
        policy.consumption.withUnsafeBufferPointer { c.update(from: $0.baseAddress!, count: nAll) }
        policy.values.withUnsafeBufferPointer { v.update(from: $0.baseAddress!, count: nAll) }
        carryMarginalUtility(slot: 0, gamma: problem.gamma)
        let change = try colemanStep(problem, cIn: 0, vIn: 0, cOut: 1, vOut: 1, iteration: 1, blocks: blocks,
                                     record: true)
        keep(c: 1, v: 1)
        choiceProbabilities(problem, v: vBuf[0], into: piPtr, shocks: blocks?.ownedShocks ?? 0..<shockCount)
        hasSolution = true
        return HouseholdStep(policy: HouseholdPolicy(consumption: consumption, values: values),
                             assetPolicy: assetPolicy, change: change)
    }

    /// The converged (or last stepped) policy as a value.
    public var policy: HouseholdPolicy { HouseholdPolicy(consumption: consumption, values: values) }

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

    /// The score ψ_j + v_j of variety j for the 8 assets at `a` of income state s (`full`: as
    /// `VectorMath.load`); ψ is the home quality on the home variety and 0 elsewhere.
    @inline(__always)
    private func score(_ v: UnsafeMutablePointer<Double>, variety j: Int, shock s: Int, asset a: Int, full: Bool,
                       home: Int, homeQuality: Vec) -> Vec {
        let x = VectorMath.load(v + (j * shockCount + s) * assetCount, a, assetCount, full: full)
        return j == home ? homeQuality + x : Vec(repeating: 0) + x
    }

    /// π = softmax over varieties of (ψ + v)/σ (`TasteShocks`) for the income states `shocks`, 8 assets at a
    /// time: the weights are stored in `out`, then divided by their sum. A row shorter than a vector, or
    /// its last partial vector, is handled as in `expectationPhase`.
    private func choiceProbabilities(_ pr: HouseholdProblem, v: UnsafeMutablePointer<Double>,
                                     into out: UnsafeMutablePointer<Double>, shocks: Range<Int>) {
        let na = assetCount, nS = shockCount, home = pr.home
        let scale = TasteShockScale(sigma: pr.sigma)
        for s in shocks {
            let psiHome = Vec(repeating: pr.homeQuality[s])
            var start = 0
            while start < na {
                let a = na >= 8 ? min(start, na - 8) : start
                let full = na >= 8
                let (_, sum) = TasteShocks.weights(varieties: varietyCount, scale: scale, score: { j in
                    score(v, variety: j, shock: s, asset: a, full: full, home: home, homeQuality: psiHome)
                }) { j, e in VectorMath.store(e, out + (j * nS + s) * na, a, na, full: full) }
                for j in 0..<varietyCount {
                    let row = out + (j * nS + s) * na
                    VectorMath.store(VectorMath.load(row, a, na, full: full) / sum, row, a, na, full: full)
                }
                start += 8
            }
        }
    }

    /// One Coleman step K: (c, v) ↦ (c′, v′, a′) of HAT-SPEC §2.1, in three phases so that blocks of the
    /// income states can run on different ranks:
    /// 1. expectations: for the owned states, m = Σ_j π_j c_j^−γ / p_j and Φ = σ log Σ_j e^{(ψ+v)/σ};
    /// 2. exchange: the rows of m and Φ of the other blocks arrive (`GridBlockExchange.shareRows`);
    /// 3. inversion: the S×S expectation over z′ (the whole GEMM, on every block, so every block computes
    ///    the same numbers as an unsplit solve), then EGM, budget and values for the owned states.
    /// Returns max|c′ − c| over all states (every block agrees on it, NaN if any block failed). With `record`
    /// the step also stores a′ and its lottery (the final step of a solve, and public steps); the loop's
    /// other steps need only c′, c′^−γ and v′.
    private func colemanStep(_ pr: HouseholdProblem, cIn: Int, vIn: Int, cOut: Int, vOut: Int,
                             iteration: Int, blocks: GridBlockExchange?, record: Bool) throws -> Double {
        let shocks = blocks?.ownedShocks ?? 0..<shockCount
        expectationPhase(pr, cpow: cpowBuf[cIn], v: vBuf[vIn], shocks: shocks)
        guard let blocks else {
            return try inversionPhase(pr, c0: cBuf[cIn], c1: cBuf[cOut], cp1: cpowBuf[cOut], v1: vBuf[vOut],
                                      iteration: iteration, shocks: shocks, record: record)
        }
        try blocks.shareRows([m, phi], rowLength: assetCount)
        // A failure in one block must not leave the others waiting: agree on the change first.
        var local: Double
        var failure: Error?
        do {
            local = try inversionPhase(pr, c0: cBuf[cIn], c1: cBuf[cOut], cp1: cpowBuf[cOut], v1: vBuf[vOut],
                                       iteration: iteration, shocks: shocks, record: record)
        } catch {
            failure = error
            local = .nan
        }
        let change = try blocks.maximum(local)
        guard change.isNaN else { return change }
        // Some block failed: every block throws the failure an unsplit solve would have thrown, the first in
        // its loop order (a non-monotone grid in (j, s) order before any consumption check, then the first
        // non-positive consumption in (j, s, a) order), whichever block found it.
        let agreed = try blocks.first(HouseholdError.key(failure as? HouseholdError, iteration: iteration))
        throw HouseholdError(key: agreed, iteration: iteration)
    }

    /// Phase 1: m and Φ on the rows `shocks` of the `[shock][asset]` scratch buffers: per income state and
    /// 8 assets at a time, the taste-shock weights over varieties (`TasteShocks`), their sum, the weighted
    /// marginal utility and the inclusive value, all in registers.
    private func expectationPhase(_ pr: HouseholdProblem, cpow cp0: UnsafeMutablePointer<Double>,
                                  v v0: UnsafeMutablePointer<Double>, shocks: Range<Int>) {
        let na = assetCount, nS = shockCount
        let scale = TasteShockScale(sigma: pr.sigma)
        // Register blocking over varieties: for each income state and 8 assets, the max over j, then the
        // weights, Σ e and Σ e·c^−γ/p accumulate in registers (two loads of v and one of c^−γ per variety,
        // one store each of m and Φ). A row shorter than a vector, or its last partial vector, is handled by
        // overlapping the previous one (each output depends on its own inputs only, so recomputing a few is
        // harmless).
        let home = pr.home
        for j in 0..<varietyCount { invPrice[j] = 1 / pr.prices[j] }
        for s in shocks {
            let rs = s * na
            let psiHome = Vec(repeating: pr.homeQuality[s])
            var start = 0
            while start < na {
                let a = na >= 8 ? min(start, na - 8) : start
                let full = na >= 8
                var weighted = Vec(repeating: 0)
                let (top, sum) = TasteShocks.weights(varieties: varietyCount, scale: scale, score: { j in
                    score(v0, variety: j, shock: s, asset: a, full: full, home: home, homeQuality: psiHome)
                }) { j, e in
                    let cp = VectorMath.load(cp0 + (j * nS + s) * na, a, na, full: full)
                    weighted = weighted + e * cp * Vec(repeating: invPrice[j])
                }
                VectorMath.store(weighted / sum, m + rs, a, na, full: full)
                VectorMath.store(Vec.inclusiveValue(top: top, sum: sum, scale: scale), phi + rs, a, na, full: full)
                start += 8
            }
        }
    }

    /// Phase 3: from complete m and Φ, the new policies on the rows `shocks`; returns max|c′ − c| there.
    private func inversionPhase(_ pr: HouseholdProblem, c0: UnsafeMutablePointer<Double>,
                                c1: UnsafeMutablePointer<Double>, cp1: UnsafeMutablePointer<Double>,
                                v1: UnsafeMutablePointer<Double>, iteration: Int, shocks: Range<Int>,
                                record: Bool) throws -> Double {
        let na = assetCount, nS = shockCount
        let gamma = pr.gamma, beta = pr.beta, lam = pr.resourceScale
        let logUtility = pr.isLogUtility
        // 3. E[s][a′] = βRλ Σ_s′ P[s][s′] m[s′][a′]; Φ̄[s][a′] = Σ_s′ P[s][s′] Φ[s′][a′] (S×S · S×N_a).
        pr.income.transition.withUnsafeBufferPointer { p in
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nS), Int32(na), Int32(nS),
                        beta * pr.rate * lam, p.baseAddress, Int32(nS), m, Int32(na), 0, expect, Int32(na))
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nS), Int32(na), Int32(nS),
                        1, p.baseAddress, Int32(nS), phi, Int32(na), 0, phiBar, Int32(na))
        }
        // 4. E^(−1/γ), shared by all varieties (p_j is factored out).
        let invGamma = 1 / gamma
        let rows = (shocks.lowerBound * na)..<(shocks.upperBound * na)
        for k in rows { einv[k] = expect[k] }
        VectorMath.pow(einv + rows.lowerBound, count: rows.count, power: -invGamma)
        // Period resources λ(R a + w z_s) + τ on the grid.
        let z = pr.income.z
        // The merge interpolates with t ∈ [0, 1] on each interval: a′ = a_i + t (a_{i+1} − a_i) and the
        // continuation β Φ̄_i + t β (Φ̄_{i+1} − Φ̄_i); the interval differences are taken once per step.
        pr.assets.withUnsafeBufferPointer { grid in
            for a in 0..<(na - 1) { gridStep[a] = grid[a + 1] - grid[a] }
            for s in shocks {
                let income = lam * pr.wage * z[s] + pr.transfer
                for a in 0..<na { cash[s * na + a] = lam * pr.rate * grid[a] + income }
                let bar = phiBar + s * na, base = barBase + s * na, step = barStep + s * na
                for a in 0..<na { base[a] = beta * bar[a] }
                for a in 0..<(na - 1) { step[a] = beta * (bar[a + 1] - bar[a]) }
            }
        }

        try pr.assets.withUnsafeBufferPointer { gridBuf in
            let grid = gridBuf.baseAddress!
            let aMin = grid[0], aMax = grid[na - 1]
            let invRl = 1 / (pr.rate * lam)
            for j in 0..<varietyCount {
                let pj = pr.prices[j], invP = 1 / pj
                let scale = logUtility ? 1.0 : exp((1 - invGamma) * log(pj))   // p_j^(1−1/γ)
                for s in shocks {
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
                    // found is also the lottery of a′ on the grid (low index l, weight ω on it), and through it
                    // the continuation value β (ω Φ̄[l] + (1−ω) Φ̄[l+1]), stored in v′ until u(c′) is added.
                    let lo = aTilde[0], hi = aTilde[na - 1]
                    let aOut = aNextPtr + base, lowOut = lotteryLow + base, weightOut = lotteryWeight + base
                    let vOut = v1 + base, cOut = c1 + base, cashRow = cash + rs
                    var a = 0
                    while a < na && grid[a] <= lo { a += 1 }            // constrained: a′ = a_1
                    let constrained = a
                    if constrained > 0 {
                        let cont = barBase[rs]                            // ω = 1 on a_1: β Φ̄_1
                        for k in 0..<constrained { cOut[k] = (cashRow[k] - aMin) * invP; vOut[k] = cont }
                        if record { for k in 0..<constrained { aOut[k] = aMin; lowOut[k] = 0; weightOut[k] = 1 } }
                    }
                    var end = na
                    while end > a && grid[end - 1] >= hi { end -= 1 }    // capped: a′ = a_N
                    if end < na {
                        let cont = barBase[rs + na - 1]                   // ω = 0 on a_{N−1}: β Φ̄_N
                        for k in end..<na { cOut[k] = (cashRow[k] - aMax) * invP; vOut[k] = cont }
                        if record { for k in end..<na { aOut[k] = aMax; lowOut[k] = Int32(na - 2); weightOut[k] = 0 } }
                    }
                    // The budget gives c′ = (R a + w z − a′)/p_j. Inside the loop only c′ and the continuation
                    // are stored; a′ and its lottery only when recorded (the final step), for the distribution.
                    var i = 0
                    let contBase = barBase + rs, contStep = barStep + rs
                    if record {
                        while a < end {
                            let x = grid[a]
                            while aTilde[i + 1] < x { i += 1 }
                            let t = (x - aTilde[i]) * invDiff[i]
                            let next = grid[i] + t * gridStep[i]
                            cOut[a] = (cashRow[a] - next) * invP
                            vOut[a] = contBase[i] + t * contStep[i]
                            aOut[a] = next; lowOut[a] = Int32(i); weightOut[a] = 1 - t
                            a += 1
                        }
                    } else {
                        while a < end {
                            let x = grid[a]
                            while aTilde[i + 1] < x { i += 1 }
                            let t = (x - aTilde[i]) * invDiff[i]
                            cOut[a] = (cashRow[a] - (grid[i] + t * gridStep[i])) * invP
                            vOut[a] = contBase[i] + t * contStep[i]
                            a += 1
                        }
                    }
                }
            }
        }
        // c^−γ and v′ = u(c′) + continuation over the owned states in one vector pass (one contiguous run,
        // or one per variety for a block), with max|c′ − c| and the count of infeasible states.
        var maxChangeBits: UInt64 = 0
        var infeasible = 0
        let whole = shocks.count == nS
        for r in 0..<(whole ? 1 : varietyCount) {
            let offset = whole ? 0 : (r * nS + shocks.lowerBound) * na, count = whole ? nAll : shocks.count * na
            let (bits, bad) = utilityAndChange(c0: c0 + offset, c1: c1 + offset, cp1: cp1 + offset, v1: v1 + offset,
                                               count: count, gamma: gamma, logUtility: logUtility)
            maxChangeBits = max(maxChangeBits, bits)
            infeasible &+= bad
        }
        if infeasible > 0 || !Double(bitPattern: maxChangeBits).isFinite {
            // Locate the offending state for the error message (cold path).
            for j in 0..<varietyCount {
                for s in shocks {
                    for a in 0..<na {
                        let k = (j * nS + s) * na + a
                        if !(c1[k] > 0) || !c1[k].isFinite {
                            throw HouseholdError.nonPositiveConsumption(state: a, shock: s, variety: j,
                                                                        iteration: iteration, value: c1[k])
                        }
                    }
                }
            }
        }
        return Double(bitPattern: maxChangeBits)
    }

    /// c^−γ of `count` contiguous states, v′ = u(c′) + v′ (v′ holds the continuation value), max|c′ − c| and
    /// the number of non-positive (or NaN) consumptions, in one vector pass. The maximum is taken on bit
    /// patterns, which order like the values for non-negative doubles; NaN sorts above +inf, so a NaN
    /// change surfaces as a NaN maximum.
    @inline(__always)
    private func utilityAndChange(c0: UnsafeMutablePointer<Double>, c1: UnsafeMutablePointer<Double>,
                                  cp1: UnsafeMutablePointer<Double>, v1: UnsafeMutablePointer<Double>,
                                  count n: Int, gamma: Double, logUtility: Bool) -> (UInt64, Int) {
        // The main loops are written out with raw vector loads: a closure over the accumulators, and then a
        // per-vector function, were not inlined (a call per 8 states, accumulators in memory: 7 % of a solve).
        // The one partial vector at the end goes through the same arithmetic in `…UtilityVector`.
        var maxBits = SIMD8<UInt64>(repeating: 0)
        var bad = SIMD8<Int64>(repeating: 0)
        let k = Vec(repeating: 1 / (1 - gamma)), power = Vec(repeating: -gamma)
        var i = 0
        if logUtility {
            let zero = Vec(repeating: 0), one = Vec(repeating: 1)
            while i + 8 <= n {
                let c = UnsafeRawPointer(c1 + i).loadUnaligned(as: Vec.self)
                let old = UnsafeRawPointer(c0 + i).loadUnaligned(as: Vec.self)
                let cont = UnsafeRawPointer(v1 + i).loadUnaligned(as: Vec.self)
                UnsafeMutableRawPointer(cp1 + i).storeBytes(of: one / c, as: Vec.self)
                UnsafeMutableRawPointer(v1 + i).storeBytes(of: vlog(c) + cont, as: Vec.self)
                maxBits = pointwiseMaxBits(maxBits, unsafeBitCast(c - old, to: SIMD8<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF)
                var infeasibleLanes = SIMD8<Int64>(repeating: 0)
                infeasibleLanes.replace(with: 1, where: .!(c .> zero))
                bad &+= infeasibleLanes
                i += 8
            }
            if i < n { Self.logUtilityVector(c0, c1, cp1, v1, i, n, false, &maxBits, &bad) }
        } else {
            // The main loop written out: the compiler would not inline the per-vector function here.
            let zero = Vec(repeating: 0)
            while i + 8 <= n {
                let c = UnsafeRawPointer(c1 + i).loadUnaligned(as: Vec.self)
                let old = UnsafeRawPointer(c0 + i).loadUnaligned(as: Vec.self)
                let cont = UnsafeRawPointer(v1 + i).loadUnaligned(as: Vec.self)
                let cp = vpowPositive(c, power)
                UnsafeMutableRawPointer(cp1 + i).storeBytes(of: cp, as: Vec.self)
                UnsafeMutableRawPointer(v1 + i).storeBytes(of: c * cp * k + cont, as: Vec.self)
                maxBits = pointwiseMaxBits(maxBits, unsafeBitCast(c - old, to: SIMD8<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF)
                var infeasibleLanes = SIMD8<Int64>(repeating: 0)
                infeasibleLanes.replace(with: 1, where: .!(c .> zero))
                bad &+= infeasibleLanes
                i += 8
            }
            if i < n { Self.powerUtilityVector(c0, c1, cp1, v1, i, n, false, power, k, &maxBits, &bad) }
        }
        return (maxBits.max(), Int(bad.wrappedSum()))
    }
}

extension HouseholdSolver {
    /// One vector of `utilityAndChange` for log utility: c^−1, v′ = log c′ + continuation.
    @inline(__always)
    static func logUtilityVector(_ c0: UnsafeMutablePointer<Double>, _ c1: UnsafeMutablePointer<Double>,
                                 _ cp1: UnsafeMutablePointer<Double>, _ v1: UnsafeMutablePointer<Double>,
                                 _ i: Int, _ n: Int, _ full: Bool,
                                 _ maxBits: inout SIMD8<UInt64>, _ bad: inout SIMD8<Int64>) {
        let c = VectorMath.load(c1, i, n, full: full), old = VectorMath.load(c0, i, n, full: full)
        let cont = VectorMath.load(v1, i, n, full: full)
        VectorMath.store(Vec(repeating: 1) / c, cp1, i, n, full: full)
        VectorMath.store(vlog(c) + cont, v1, i, n, full: full)
        account(c, old, &maxBits, &bad)
    }

    /// One vector of `utilityAndChange` for CRRA utility: c^−γ, v′ = c·c^−γ/(1−γ) + continuation.
    @inline(__always)
    static func powerUtilityVector(_ c0: UnsafeMutablePointer<Double>, _ c1: UnsafeMutablePointer<Double>,
                                   _ cp1: UnsafeMutablePointer<Double>, _ v1: UnsafeMutablePointer<Double>,
                                   _ i: Int, _ n: Int, _ full: Bool, _ power: Vec, _ k: Vec,
                                   _ maxBits: inout SIMD8<UInt64>, _ bad: inout SIMD8<Int64>) {
        let c = VectorMath.load(c1, i, n, full: full), old = VectorMath.load(c0, i, n, full: full)
        let cont = VectorMath.load(v1, i, n, full: full)
        let cp = vpowPositive(c, power)
        VectorMath.store(cp, cp1, i, n, full: full)
        VectorMath.store(c * cp * k + cont, v1, i, n, full: full)
        account(c, old, &maxBits, &bad)
    }

    /// max |c′ − c| on bit patterns and the count of non-positive (or NaN) c′. Tail lanes load c = old = 1:
    /// a zero change and a feasible state.
    @inline(__always)
    static func account(_ c: Vec, _ old: Vec, _ maxBits: inout SIMD8<UInt64>, _ bad: inout SIMD8<Int64>) {
        maxBits = pointwiseMaxBits(maxBits, unsafeBitCast(c - old, to: SIMD8<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF)
        var infeasibleLanes = SIMD8<Int64>(repeating: 0)
        infeasibleLanes.replace(with: 1, where: .!(c .> Vec(repeating: 0)))
        bad &+= infeasibleLanes
    }
}

@_transparent
func pointwiseMaxBits(_ a: SIMD8<UInt64>, _ b: SIMD8<UInt64>) -> SIMD8<UInt64> {
    var out = a
    out.replace(with: b, where: b .> a)
    return out
}

/// Consumption and values on the `[variety][shock][asset]` layout: the input and output of a Coleman step.
public struct HouseholdPolicy: Sendable, Equatable {
    public var consumption: [Double]
    public var values: [Double]
    public init(consumption: [Double], values: [Double]) { self.consumption = consumption; self.values = values }
}

/// One Coleman step's output.
public struct HouseholdStep: Sendable {
    public var policy: HouseholdPolicy
    /// a′ of each state and variety.
    public var assetPolicy: [Double]
    /// max|c′ − c|.
    public var change: Double
}

/// How the blocks of one country's income states talk inside a household or distribution step. HATModel
/// knows no MPI: an implementation over a communicator lives above it (and a test can implement it with
/// threads). Every block calls the methods in the same order.
public protocol GridBlockExchange: AnyObject {
    /// The income states (rows of the `[shock][asset]` layout) this block computes.
    var ownedShocks: Range<Int> { get }
    /// Fill the rows outside `ownedShocks` of each `[shock][asset]` buffer (rows of `rowLength`) from the
    /// blocks that own them.
    func shareRows(_ buffers: [UnsafeMutablePointer<Double>], rowLength: Int) throws
    /// The maximum of `value` over all blocks; NaN if any block's value is NaN.
    func maximum(_ value: Double) throws -> Double
    /// The lexicographically smallest of the blocks' `key`s (all of one length), on every block.
    func first(_ key: [Double]) throws -> [Double]
}
