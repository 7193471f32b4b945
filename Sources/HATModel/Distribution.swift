import COpenBLAS
import Foundation

/// How a stationary-distribution iteration ended.
public struct DistributionStats: Sendable {
    public var iterations: Int
    public var converged: Bool
    /// max_k |λ⁽ⁿ⁺¹⁾_k − λ⁽ⁿ⁾_k| at the last iteration.
    public var change: Double

    public init(iterations: Int, converged: Bool, change: Double) {
        self.iterations = iterations; self.converged = converged; self.change = change
    }
}

/// Using the distribution in a way its state does not allow.
public enum DistributionError: Error, CustomStringConvertible, Equatable {
    /// `pushForward` over income states whose bands `prepare` did not build.
    case notPrepared(rows: Range<Int>, prepared: Range<Int>?)
    public var description: String {
        switch self {
        case let .notPrepared(rows, prepared):
            return "distribution: push-forward over income states \(rows) but the bands were prepared for \(prepared.map { "\($0)" } ?? "none")"
        }
    }
}

/// The stationary distribution over (asset, shock) states (HAT-SPEC §3), by pushing mass forward through
/// the policy lotteries and the shock transition. The dense N_aS × N_aS matrix Q is never built: once per
/// solve the variety-weighted lotteries of each state are pre-aggregated into a band of next-period asset
/// points ("band distribution"), then each iteration is a band scatter plus an S × S mixing of shocks.
///
/// λ is laid out `[shock][asset]`, index `s * N_a + a` (the spec's k = a + (s−1) N_a).
public final class StationaryDistribution {
    public let assetCount: Int, shockCount: Int
    private let nState: Int
    private let lambda: UnsafeMutablePointer<Double>
    private let next: UnsafeMutablePointer<Double>
    private let moved: UnsafeMutablePointer<Double>
    // Band of each state: targets bandLow[k] ..< bandLow[k] + bandWidth[k], weights at bandStart[k]. A state
    // whose varieties' lotteries lie far apart (a fine grid, early iterations) would need a band as wide as
    // the grid (memory N_a² S): it stores its 2M lottery points instead, as bandWidth[k] = −count pairs of
    // (sparseTargets, bandWeights) from bandStart[k]. Either way storage is at most 2M entries per state.
    private var bandLow: [Int32], bandWidth: [Int32], bandStart: [Int32]
    private var bandWeights: [Double]
    private var sparseTargets: [Int32]
    public private(set) var hasSolution = false
    /// The income states whose bands `prepare` built (nil before the first `prepare`).
    public private(set) var preparedShocks: Range<Int>?

    public init(assets: Int, shocks: Int) {
        assetCount = assets; shockCount = shocks; nState = assets * shocks
        lambda = .allocate(capacity: nState); lambda.initialize(repeating: 0, count: nState)
        next = .allocate(capacity: nState); next.initialize(repeating: 0, count: nState)
        moved = .allocate(capacity: nState); moved.initialize(repeating: 0, count: nState)
        bandLow = .init(repeating: 0, count: nState)
        bandWidth = .init(repeating: 0, count: nState)
        bandStart = .init(repeating: 0, count: nState)
        bandWeights = []
        bandWeights.reserveCapacity(nState * 4)
        sparseTargets = []
    }

    deinit { lambda.deallocate(); next.deallocate(); moved.deallocate() }

    /// λ as an array `[shock][asset]`.
    public var masses: [Double] { Array(UnsafeBufferPointer(start: lambda, count: nState)) }

    public func reset() { hasSolution = false }

    /// Read λ (`[shock][asset]`) in place, without a copy.
    public func withMasses<R>(_ body: (UnsafePointer<Double>) throws -> R) rethrows -> R { try body(lambda) }

    /// Build the bands from the household's converged policies, then iterate λ ← Qᵀλ from the uniform
    /// distribution (or the stored one with `warmStart`) until max|Δλ| < `tolerance` (at most
    /// `maxIterations`, 5000 as in the author's code). No renormalisation, as in the author's code.
    ///
    /// With `blocks`, this block pushes forward only the mass of its own income states (its household solver
    /// computed only those policies) and the blocks exchange the moved mass before mixing shocks; every
    /// block then holds the whole λ, bitwise the same as an unsplit solve.
    @discardableResult
    public func solve(household hh: HouseholdSolver, transition: [Double], tolerance: Double,
                      maxIterations: Int = 5000, warmStart: Bool = false,
                      blocks: GridBlockExchange? = nil) throws -> DistributionStats {
        prepare(household: hh, shocks: blocks?.ownedShocks ?? 0..<shockCount)
        if !(warmStart && hasSolution) {
            for k in 0..<nState { lambda[k] = 1 / Double(nState) }
        }
        hasSolution = false
        var stats = DistributionStats(iterations: 0, converged: false, change: .infinity)
        for iteration in 1...max(maxIterations, 1) {
            let change = try pushForward(transition: transition, blocks: blocks)
            stats.iterations = iteration
            stats.change = change
            if change < tolerance { stats.converged = true; break }
        }
        hasSolution = stats.change.isFinite
        return stats
    }

    /// Replace λ (`[shock][asset]`), e.g. from a checkpoint; the next `solve(warmStart: true)` starts there.
    public func load(masses: [Double]) {
        precondition(masses.count == nState)
        masses.withUnsafeBufferPointer { lambda.update(from: $0.baseAddress!, count: nState) }
        hasSolution = true
    }

    /// Build the push-forward's bands from the household's policies (π and the lotteries of a′) for the
    /// states of `shocks`. Call before `pushForward` whenever the policies changed.
    public func prepare(household hh: HouseholdSolver, shocks: Range<Int>? = nil) {
        precondition(hh.assetCount == assetCount && hh.shockCount == shockCount)
        let rows = shocks ?? 0..<shockCount
        buildBands(hh, shocks: rows)
        preparedShocks = rows
    }

    /// One forward step λ ← Qᵀλ (HAT-SPEC §3), the distribution's counterpart of the household's Coleman
    /// step: scatter each owned state's mass over its band of next-period assets (same shock), exchange the
    /// moved mass between blocks, then mix shocks with Pᵀ (the whole S×S product on every block). Returns
    /// max|Δλ| (the same on every block).
    public func pushForward(transition: [Double], blocks: GridBlockExchange? = nil) throws -> Double {
        let na = assetCount, nS = shockCount, ns = nState
        let shocks = blocks?.ownedShocks ?? 0..<shockCount
        // The bands must be those of exactly these rows (a partial `prepare` leaves the others stale).
        guard preparedShocks == shocks else { throw DistributionError.notPrepared(rows: shocks, prepared: preparedShocks) }
        bandWeights.withUnsafeBufferPointer { wts in
            sparseTargets.withUnsafeBufferPointer { targets in
                for k in (shocks.lowerBound * na)..<(shocks.upperBound * na) { moved[k] = 0 }
                for s in shocks {
                    let rs = s * na
                    for a in 0..<na {
                        let k = rs + a
                        let mass = lambda[k]
                        let low = rs + Int(bandLow[k]), start = Int(bandStart[k]), width = Int(bandWidth[k])
                        if width >= 0 {
                            for t in 0..<width { moved[low + t] += mass * wts[start + t] }
                        } else {
                            for t in start..<(start - width) { moved[rs + Int(targets[t])] += mass * wts[t] }
                        }
                    }
                }
            }
        }
        try blocks?.shareRows([moved], rowLength: na)
        // Mix shocks: next[s′][a′] = Σ_s P[s][s′] moved[s][a′]  (Pᵀ · moved).
        transition.withUnsafeBufferPointer { p in
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(nS), Int32(na), Int32(nS),
                        1, p.baseAddress, Int32(nS), moved, Int32(na), 0, next, Int32(na))
        }
        // Max-abs change as an integer reduction on bit patterns (vectorises; NaN sorts highest).
        var changeBits: UInt64 = 0
        for k in 0..<ns {
            changeBits = max(changeBits, abs(next[k] - lambda[k]).bitPattern)
            lambda[k] = next[k]
        }
        return Double(bitPattern: changeBits)
    }

    /// E[x] = Σ_k λ_k x_k for x on the `[shock][asset]` layout (summed in that order): the generic
    /// distribution-weighted expectation behind aggregates and statistics.
    public func expectation(of x: [Double]) -> Double {
        precondition(x.count == nState)
        var total = 0.0
        for k in 0..<nState { total += lambda[k] * x[k] }
        return total
    }

    /// E[Σ_j π_j x_j] = Σ_k λ_k Σ_j π_kj x_kj for x on the household's `[variety][shock][asset]` layout,
    /// weighting each variety by the household's choice probabilities (e.g. x = a′ gives bond demand per
    /// household, x = p_j c_j expenditure).
    public func expectation(ofChoices x: [Double], household hh: HouseholdSolver) -> Double {
        precondition(x.count == nState * hh.varietyCount && hh.assetCount == assetCount)
        var total = 0.0
        for s in 0..<shockCount {
            for a in 0..<assetCount {
                var inner = 0.0
                for j in 0..<hh.varietyCount {
                    let idx = hh.index(variety: j, shock: s, asset: a)
                    inner += hh.piPtr[idx] * x[idx]
                }
                total += lambda[s * assetCount + a] * inner
            }
        }
        return total
    }

    /// Pre-aggregate π_kj × (lottery of a′_kj) over varieties j into one band per state k.
    private func buildBands(_ hh: HouseholdSolver, shocks: Range<Int>) {
        let na = assetCount, nJ = hh.varietyCount
        bandWeights.removeAll(keepingCapacity: true)
        sparseTargets.removeAll(keepingCapacity: true)
        for s in shocks {
            for a in 0..<na {
                var low = Int32.max, high = Int32.min
                for j in 0..<nJ {
                    let l = hh.lotteryLow[hh.index(variety: j, shock: s, asset: a)]
                    low = min(low, l); high = max(high, l + 1)
                }
                let k = s * na + a
                let width = Int(high - low) + 1
                let start = bandWeights.count
                if width > 2 * nJ {
                    // Sparse: the lottery pairs themselves (targets index the same shock's asset row).
                    if sparseTargets.count < start { sparseTargets.append(contentsOf: repeatElement(0, count: start - sparseTargets.count)) }
                    for j in 0..<nJ {
                        let idx = hh.index(variety: j, shock: s, asset: a)
                        let pi = hh.piPtr[idx], w = hh.lotteryWeight[idx], l = hh.lotteryLow[idx]
                        bandWeights.append(pi * w); sparseTargets.append(l)
                        bandWeights.append(pi * (1 - w)); sparseTargets.append(l + 1)
                    }
                    bandLow[k] = 0; bandWidth[k] = -Int32(2 * nJ); bandStart[k] = Int32(start)
                    continue
                }
                bandWeights.append(contentsOf: repeatElement(0, count: width))
                for j in 0..<nJ {
                    let idx = hh.index(variety: j, shock: s, asset: a)
                    let pi = hh.piPtr[idx], w = hh.lotteryWeight[idx]
                    let offset = start + Int(hh.lotteryLow[idx] - low)
                    bandWeights[offset] += pi * w
                    bandWeights[offset + 1] += pi * (1 - w)
                }
                bandLow[k] = low; bandWidth[k] = Int32(width); bandStart[k] = Int32(start)
            }
        }
    }
}
