// Where a household solve starts: the cold guess of HAT-SPEC §2.2, a loaded policy (checkpoints, moved
// countries) and the c^−γ a warm start carries.
import Foundation

extension HouseholdSolver {
    /// c^−γ of the consumption in `slot`, computed as the kernel carries it (vector power; 1/c for log).
    func carryMarginalUtility(slot: Int, gamma: Double) {
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

    /// HAT-SPEC §2.2's guess: stay at the borrowing limit. When that consumption is not positive the prices
    /// are infeasible (the interest on the debt exceeds the income): say so, as "iteration 0".
    func initialGuess(_ pr: HouseholdProblem, c: UnsafeMutablePointer<Double>,
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
}
