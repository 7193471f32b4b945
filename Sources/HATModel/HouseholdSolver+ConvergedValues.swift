// Solving the household problem until its values, not only its policy, have converged.

/// What `solveValues` reached.
public struct ConvergedValueStats: Sendable, Equatable {
    /// Coleman steps taken.
    public var iterations: Int
    /// max|Δc| of the last step.
    public var policyChange: Double
    /// The McQueen–Porteus bound on |v − v*| of the returned values (v* the fixed point at the last policy).
    public var valueBound: Double
    public var converged: Bool
}

extension HouseholdSolver {
    /// Coleman steps until the policy has converged (max|Δc| < `policyTolerance`) and the values are within
    /// `valueTolerance` of their fixed point, with the values then moved to the middle of the
    /// McQueen–Porteus bounds.
    ///
    /// Why the bounds: the policy's stopping rule (HAT-SPEC §2.2) leaves the value's level unconverged, since
    /// the values contract only at rate β, and most of what is left is a constant (the transition is
    /// stochastic: v + k maps to T v + β k). Once the policy is fixed, the value step T is monotone with that
    /// property, so with Δ = T v − v the fixed point lies in T v + β/(1−β) [min Δ, max Δ] element by element.
    /// The constant part of the error is removed exactly and only the span of Δ has to shrink (the choice
    /// probabilities ignore a constant, so the policy does not see the shift).
    ///
    /// With `warmStart` and a stored solution, iteration starts from it: the fixed point does not depend on
    /// the start, only the number of steps does (and the last bits). Without `recordAssetPolicy` the
    /// solution's a′ and lotteries are not stored (cheaper steps, for callers that read only c, v and π).
    @discardableResult
    public func solveValues(_ problem: HouseholdProblem, policyTolerance: Double = 1e-12, valueTolerance: Double,
                            maxIterations: Int = 5000, warmStart: Bool = false,
                            recordAssetPolicy: Bool = true) throws -> ConvergedValueStats {
        precondition(problem.assets.count == assetCount && problem.income.count == shockCount
                     && problem.prices.count == varietyCount)
        precondition(problem.beta > 0 && problem.beta < 1)
        bindScratch()
        if warmStart && hasSolution {
            carryMarginalUtility(slot: 0, gamma: problem.gamma)
        } else {
            try initialGuess(problem, c: cBuf[0], cpow: cpowBuf[0], v: vBuf[0])
        }
        hasSolution = false
        let factor = problem.beta / (1 - problem.beta)
        var stats = ConvergedValueStats(iterations: 0, policyChange: .infinity, valueBound: .infinity, converged: false)
        var slot = 0
        var lastSpan = Double.infinity, lastRatio = Double.infinity, sinceJump = 0
        var lastArgLow = -1, lastArgHigh = -1, spanAtJump = Double.infinity, extrapolating = true
        for iteration in 1...max(maxIterations, 1) {
            let change = try colemanStep(problem, cIn: slot, vIn: slot, cOut: 1 - slot, vOut: 1 - slot,
                                         iteration: iteration, blocks: nil, record: recordAssetPolicy)
            slot = 1 - slot
            let vNew = vBuf[slot], vOld = vBuf[1 - slot]
            var low = Double.infinity, high = -Double.infinity, argLow = 0, argHigh = 0
            for k in 0..<nAll {
                let d = vNew[k] - vOld[k]
                if d < low { low = d; argLow = k }
                if d > high { high = d; argHigh = k }
            }
            stats.iterations = iteration
            stats.policyChange = change
            stats.valueBound = factor * 0.5 * (high - low)
            guard stats.valueBound.isFinite && change.isFinite else { break }
            // Once the policy has settled, what is left of the values' error beyond a constant decays
            // geometrically, at the ratio of successive spans of Δ. When that ratio has held for three steps,
            // jump to the geometric limit of the non-constant part (Aitken's step on the slowest mode): about a
            // quarter fewer steps. The span ratio has no sign, so the extremes of Δ must also sit at the same
            // states as one step before (a mode that alternates in sign swaps them); a jump after which the
            // span grows ends the extrapolation for this solve. Acceptance is unchanged: it is always the
            // bound of a plain step, and a step that is accepted is never extrapolated.
            let span = high - low, ratio = span / lastSpan
            sinceJump += 1
            if sinceJump == 1 && span > spanAtJump { extrapolating = false }
            if extrapolating && change < 1e-9 && sinceJump >= 3 && ratio < 0.98 && abs(ratio - lastRatio) < 1e-3 * ratio
                && argLow == lastArgLow && argHigh == lastArgHigh && stats.valueBound > valueTolerance {
                let f = ratio / (1 - ratio), mid = 0.5 * (low + high)
                for k in 0..<nAll { vNew[k] += f * (vNew[k] - vOld[k] - mid) }
                sinceJump = 0
                spanAtJump = span
            }
            lastSpan = span; lastRatio = ratio; lastArgLow = argLow; lastArgHigh = argHigh
            if change < policyTolerance && stats.valueBound <= valueTolerance {
                let shift = factor * 0.5 * (low + high)
                for k in 0..<nAll { vNew[k] += shift }
                stats.converged = true
                break
            }
        }
        keep(c: slot, v: slot)
        choiceProbabilities(problem, v: vBuf[0], into: piPtr, shocks: 0..<shockCount)
        hasSolution = true
        return stats
    }
}

