// How a country's rebated tariff revenue is spread over its households' income states.
import Foundation

/// How the tariff revenue of a rebating country reaches its households, by configuration name. Every paying
/// scheme pays the per-capita mean τ_i (the closure's unknown, set by the budget T_i = L_i τ_i) and differs
/// only in the profile φ_s over the income states, of mean one under the stationary income distribution:
/// the household in state s gets τ_i φ_s. The closure and its budget equation are the same for every paying
/// scheme; `discard` has no transfer at all.
public enum RebateScheme: String, CaseIterable, Sendable {
    /// The same transfer for every household: φ_s = 1.
    case perCapita = "per-capita"
    /// In proportion to labour income w z_s: φ_s = z_s / E[z].
    case labourIncome = "labour-income"
    /// All of it to the poorest fifth by labour income: φ_s = share_s / 0.2, where share_s is the fraction
    /// of state s's households in the bottom fifth.
    case bottomQuintile = "bottom-quintile"
    /// The revenue is thrown away: no transfer (the tariff still acts on prices).
    case discard = "discard"

    /// The mass of households the bottom-quintile scheme pays.
    public static let bottomMass = 0.2

    /// Whether any revenue goes back to the households (every scheme but `discard`).
    public var pays: Bool { self != .discard }

    /// Whether the transfer differs across income states, so that a household problem needs per-state
    /// transfers (`HouseholdProblem.transferByShock`); per-capita keeps the scalar transfer.
    public var variesByShock: Bool { self == .labourIncome || self == .bottomQuintile }

    /// The profile φ_s for every income state of `income`, of mean one under `income.stationary`; nil for
    /// `discard`, which pays nothing.
    public func profile(for income: IncomeProcess) -> [Double]? {
        switch self {
        case .perCapita: return [Double](repeating: 1, count: income.count)
        case .labourIncome:
            let mean = income.meanZ
            return income.z.map { $0 / mean }
        case .bottomQuintile:
            return Self.bottomShares(z: income.z, stationary: income.stationary).map { $0 / Self.bottomMass }
        case .discard: return nil
        }
    }

    /// share_s ∈ [0, 1]: the fraction of the households of state s that belong to the poorest `bottomMass`
    /// by labour income. The states are filled from the lowest z up until their stationary mass reaches
    /// `bottomMass`; the state at the margin is split, with the fraction that makes the mass exactly
    /// `bottomMass`. A split state's households cannot be told apart (the same z), so the scheme pays each
    /// of them the average share_s τ_i / 0.2 rather than τ_i / 0.2 to some and nothing to the others. States
    /// with equal z are one group and get the same share.
    public static func bottomShares(z: [Double], stationary pi: [Double]) -> [Double] {
        precondition(z.count == pi.count)
        let order = z.indices.sorted { z[$0] < z[$1] || (z[$0] == z[$1] && $0 < $1) }
        var shares = [Double](repeating: 0, count: z.count)
        var filled = 0.0
        var k = 0
        while k < order.count && filled < bottomMass {
            var group = [order[k]]
            while k + group.count < order.count && z[order[k + group.count]] == z[order[k]] {
                group.append(order[k + group.count])
            }
            var mass = 0.0
            for s in group { mass += pi[s] }
            let share = filled + mass <= bottomMass ? 1.0 : (bottomMass - filled) / mass
            for s in group { shares[s] = share }
            filled += mass
            k += group.count
        }
        return shares
    }
}
