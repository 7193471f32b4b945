// One Coleman step K of HAT-SPEC §2.1 (the endogenous-grid step): expectations over varieties and
// income states, the inversion and interpolation with the lotteries of a′, and utility with the change.
import COpenBLAS
import Foundation

extension HouseholdSolver {
    /// One Coleman step K: (c, v) ↦ (c′, v′, a′) of HAT-SPEC §2.1, in three phases so that blocks of the
    /// income states can run on different ranks:
    /// 1. expectations: for the owned states, m = Σ_j π_j c_j^−γ / p_j and Φ = σ log Σ_j e^{(ψ+v)/σ};
    /// 2. exchange: the rows of m and Φ of the other blocks arrive (`GridBlockExchange.shareRows`);
    /// 3. inversion: the S×S expectation over z′ (the whole GEMM, on every block, so every block computes
    ///    the same numbers as an unsplit solve), then EGM, budget and values for the owned states.
    /// Returns max|c′ − c| over all states (every block agrees on it, NaN if any block failed). With `record`
    /// the step also stores a′ and its lottery (the final step of a solve, and public steps); the loop's
    /// other steps need only c′, c′^−γ and v′.
    func colemanStep(_ pr: HouseholdProblem, cIn: Int, vIn: Int, cOut: Int, vOut: Int,
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
    func expectationPhase(_ pr: HouseholdProblem, cpow cp0: UnsafeMutablePointer<Double>,
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
    func inversionPhase(_ pr: HouseholdProblem, c0: UnsafeMutablePointer<Double>,
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
        // Period resources λ(R a + w z_s) + τ_s on the grid (τ_s = τ unless the transfer varies by state).
        let z = pr.income.z
        // The merge interpolates with t ∈ [0, 1] on each interval: a′ = a_i + t (a_{i+1} − a_i) and the
        // continuation β Φ̄_i + t β (Φ̄_{i+1} − Φ̄_i); the interval differences are taken once per step.
        pr.assets.withUnsafeBufferPointer { grid in
            for a in 0..<(na - 1) { gridStep[a] = grid[a + 1] - grid[a] }
            for s in shocks {
                let income = lam * pr.wage * z[s] + pr.transfer(shock: s)
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
                    let shift = lam * pr.wage * z[s] + pr.transfer(shock: s)
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
    func utilityAndChange(c0: UnsafeMutablePointer<Double>, c1: UnsafeMutablePointer<Double>,
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
