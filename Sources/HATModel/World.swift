import Foundation

/// Model parameters common to all countries (HAT-SPEC §0, §1, §7). The discount factor β is not here: it
/// is either held fixed by the market closure or one of its unknowns, so it is decided in one place
/// (`MarketClosure` in Equilibrium) and reaches the household through `Prices.beta`.
public struct ModelParameters: Sendable, Equatable {
    /// CRRA γ (1 = log utility).
    public var gamma: Double
    /// Whether γ means log utility (the one rule: `HouseholdProblem.isLogUtility(gamma:)`).
    public var isLogUtility: Bool { HouseholdProblem.isLogUtility(gamma: gamma) }
    /// Common taste-shock scale σε; country i uses σε A_i^(1−γ).
    public var sigmaEps: Double
    /// Home quality shifter slope ψ̃; country i uses ψ̃ A_i^(1−γ) ℓ_s.
    public var psiSlope: Double
    /// Borrowing limit φ (× A_i).
    public var phi: Double
    /// Top of the asset grid ā (× A_i).
    public var amax: Double
    /// Number of asset grid points N_a.
    public var assetPoints: Int
    public var income: IncomeProcess.Parameters

    public init(gamma: Double, sigmaEps: Double, psiSlope: Double, phi: Double, amax: Double,
                assetPoints: Int, income: IncomeProcess.Parameters) {
        self.gamma = gamma; self.sigmaEps = sigmaEps; self.psiSlope = psiSlope
        self.phi = phi; self.amax = amax; self.assetPoints = assetPoints; self.income = income
    }
}

/// The countries, the frictions between them, and how their goods are produced.
public struct World: Sendable, Equatable {
    public var names: [String]
    /// TFP A_i: productivity under Armington supply, and the country scaling of every supply side
    /// (`CountryScaling`).
    public var tfp: [Double]
    /// Labour force L_i.
    public var labor: [Double]
    /// Iceberg costs d_ij, row-major (row = importer i, column = exporter j), d_ii = 1.
    public var tradeCosts: [Double]
    /// Ad-valorem tariffs t_ij, row-major; zero by default.
    public var tariffs: [Double]
    /// How goods are produced and priced (Armington unless a configuration says otherwise).
    public var supply: any SupplySide

    public init(names: [String], tfp: [Double], labor: [Double], tradeCosts: [Double], tariffs: [Double]? = nil,
                supply: any SupplySide = ArmingtonSupply()) {
        self.names = names; self.tfp = tfp; self.labor = labor; self.tradeCosts = tradeCosts
        self.tariffs = tariffs ?? [Double](repeating: 0, count: names.count * names.count)
        self.supply = supply
    }

    public static func == (a: World, b: World) -> Bool {
        a.names == b.names && a.tfp == b.tfp && a.labor == b.labor && a.tradeCosts == b.tradeCosts
            && a.tariffs == b.tariffs && a.supply.isEqual(to: b.supply)
    }

    public var count: Int { names.count }
    public func tradeCost(importer i: Int, exporter j: Int) -> Double { tradeCosts[i * count + j] }
    public func tariff(importer i: Int, exporter j: Int) -> Double { tariffs[i * count + j] }
    /// The index of a country by name, case-insensitively.
    public func countryIndex(_ name: String) -> Int? {
        names.firstIndex(of: name) ?? names.firstIndex { $0.caseInsensitiveCompare(name) == .orderedSame }
    }
    /// Whether any tariff is non-zero.
    public var hasTariffs: Bool { tariffs.contains { $0 != 0 } }
    /// The countries that levy a non-zero tariff on some import (their revenue can be rebated).
    public var rebatingCountries: [Int] {
        (0..<count).filter { i in (0..<count).contains { tariffs[i * count + $0] != 0 } }
    }
}

/// Prices at which the world is evaluated.
public struct Prices: Sendable, Equatable {
    /// Wages w_i (mean one under the usual normalisation).
    public var wages: [Double]
    /// Gross interest rates R_i (all equal under financial globalisation).
    public var rates: [Double]
    /// Discount factor β: the closure's fixed value, or its unknown (fixed-rate closure).
    public var beta: Double
    /// Lump-sum transfer τ_i per household of each country (tariff rebates; zero otherwise): the mean
    /// transfer per capita, spread over the income states by `rebate`.
    public var transfers: [Double]
    /// How each country's transfer is spread over its households' income states (per capita unless a
    /// rebate closure says otherwise).
    public var rebate: RebateScheme
    /// The buyer prices p_ij (row = importer) an evaluation found, when the supply side's prices depend on
    /// spending (`SupplySide.spendingElasticity` > 0); nil otherwise (they follow from the wages).
    public var buyerPrices: [[Double]]? = nil

    public init(wages: [Double], rates: [Double], beta: Double, transfers: [Double]? = nil,
                rebate: RebateScheme = .perCapita) {
        self.wages = wages; self.rates = rates; self.beta = beta
        self.transfers = transfers ?? [Double](repeating: 0, count: wages.count)
        self.rebate = rebate
    }

}

extension World {
    /// Buyer prices faced by importer i at wages alone: under Armington p_ij = (w_j / A_j) d_ij (1 + t_ij)
    /// (HAT-SPEC §1.1). A supply side whose prices depend on spending needs `buyerPrices(importer:prices:)`.
    public func buyerPrices(importer i: Int, wages: [Double]) -> [Double] {
        precondition(supply.spendingElasticity == 0, "buyer prices of a \(supply.name) world depend on spending")
        return supply.buyerPrices(world: self, importer: i, wages: wages, spending: nil)
    }

    /// Buyer prices faced by importer i at `prices`: those an evaluation found (`Prices.buyerPrices`) when the
    /// supply side's prices depend on spending (NaN when none was found), else the supply side's prices at
    /// the wages.
    public func buyerPrices(importer i: Int, prices: Prices) -> [Double] {
        if supply.spendingElasticity > 0 {
            // Prices an evaluation did not find (it failed) are not numbers: a household problem built on them
            // fails rather than solving at made-up prices.
            guard let found = prices.buyerPrices, found.count == count, found[i].count == count else {
                return [Double](repeating: .nan, count: count)
            }
            return found[i]
        }
        return supply.buyerPrices(world: self, importer: i, wages: prices.wages, spending: nil)
    }

    /// Country i's household problem with the country scaling of HAT-SPEC §1.5. The transfer τ_i reaches
    /// the households as `prices.rebate` says: per capita as the scalar `transfer`; spread by income state
    /// as `transferByShock` = τ_i φ_s (with a zero scalar part); not at all under `discard`.
    public func householdProblem(country i: Int, model: ModelParameters, income: IncomeProcess,
                                 prices: Prices) -> HouseholdProblem {
        let scaling = CountryScaling(tfp: tfp[i], model: model)
        var problem = HouseholdProblem(
            assets: scaling.assetGrid, income: income, gamma: model.gamma, beta: prices.beta,
            sigma: scaling.sigma, home: i, homeQuality: scaling.homeQuality(income),
            prices: buyerPrices(importer: i, prices: prices), wage: prices.wages[i], rate: prices.rates[i],
            transfer: prices.transfers[i])
        switch prices.rebate {
        case .perCapita: break
        case .discard: problem.transfer = 0
        case .labourIncome, .bottomQuintile:
            let tau = prices.transfers[i]
            if tau != 0, let profile = prices.rebate.profile(for: income) {
                problem.transfer = 0
                problem.transferByShock = profile.map { tau * $0 }
            }
        }
        return problem
    }
}

/// How a country's TFP A_i scales the model (HAT-SPEC §1.4–§1.5), in one place for the equilibrium, the
/// planner and the outputs: the asset grid spans [−φ A_i, ā A_i], and with CRRA γ the taste-shock scale and
/// the quality shifter are multiplied by A_i^(1−γ) so that the model is invariant to the units of A_i.
public struct CountryScaling: Sendable, Equatable {
    public var tfp: Double
    public var model: ModelParameters

    public init(tfp: Double, model: ModelParameters) { self.tfp = tfp; self.model = model }

    /// A_i^(1−γ), exactly 1 for log utility.
    public var utilityScale: Double { model.isLogUtility ? 1 : pow(tfp, 1 - model.gamma) }
    /// σ_i = σε A_i^(1−γ).
    public var sigma: Double { model.sigmaEps * utilityScale }
    /// ψ_i(z_s) = ψ̃ A_i^(1−γ) ℓ_s for every income state s.
    public func homeQuality(_ income: IncomeProcess) -> [Double] {
        let scale = utilityScale
        return income.logPersistent.map { model.psiSlope * scale * $0 }
    }
    /// The debt limit φ A_i (the grid starts at −φ A_i).
    public var debtLimit: Double { model.phi * tfp }
    /// The top of the grid ā A_i.
    public var topAssets: Double { model.amax * tfp }
    /// N_a points on [−φ A_i, ā A_i].
    public var assetGrid: [Double] {
        HATModel.assetGrid(points: model.assetPoints, borrowingLimit: model.phi, top: model.amax, tfp: tfp)
    }
}
