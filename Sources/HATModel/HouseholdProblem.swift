// The settings of one country's household problem (the grid, preferences, taste shocks and prices), the
// one rule that decides log utility, and the asset grid.
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
    /// Lump-sum transfer τ_i per household, the same in every state.
    public var transfer: Double = 0
    /// Lump-sum transfers that depend on the income state (a rebate scheme other than per capita): the
    /// household in state s receives `transfer + transferByShock[s]`. nil (the default) is the scalar
    /// transfer alone, computed exactly as without this field. Kept apart from `transfer` so that a uniform
    /// extra payment (the MPCs' one-off transfer) still adds the same amount in every state.
    public var transferByShock: [Double]? = nil
    /// Proportional multiplier λτ on period resources (equivalent variation).
    public var resourceScale: Double = 1

    public init(assets: [Double], income: IncomeProcess, gamma: Double, beta: Double, sigma: Double,
                home: Int, homeQuality: [Double], prices: [Double], wage: Double, rate: Double,
                transfer: Double = 0, resourceScale: Double = 1, transferByShock: [Double]? = nil) {
        self.assets = assets; self.income = income; self.gamma = gamma; self.beta = beta
        self.sigma = sigma; self.home = home; self.homeQuality = homeQuality; self.prices = prices
        self.wage = wage; self.rate = rate; self.transfer = transfer; self.resourceScale = resourceScale
        self.transferByShock = transferByShock
    }

    public var varieties: Int { prices.count }

    /// The lump-sum transfer of income state s: period resources are λτ(R a + w z_s) + `transfer(shock: s)`.
    @inline(__always) public func transfer(shock s: Int) -> Double {
        if let byShock = transferByShock { return transfer + byShock[s] }
        return transfer
    }
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
