import Foundation
import HATModel

/// Model parameters common to all countries (HAT-SPEC §0, §1, §7).
public struct ModelParameters: Sendable, Equatable {
    /// CRRA γ (1 = log utility).
    public var gamma: Double
    /// Common taste-shock scale σε; country i uses σε A_i^(1−γ).
    public var sigmaEps: Double
    /// Home quality shifter slope ψ̃; country i uses ψ̃ A_i^(1−γ) ℓ_s.
    public var psiSlope: Double
    /// Discount factor β (fixed, or the initial guess when the closure solves for it).
    public var beta: Double
    /// Borrowing limit φ (× A_i).
    public var phi: Double
    /// Top of the asset grid ā (× A_i).
    public var amax: Double
    /// Number of asset grid points N_a.
    public var assetPoints: Int
    public var income: IncomeProcess.Parameters

    public init(gamma: Double, sigmaEps: Double, psiSlope: Double, beta: Double, phi: Double, amax: Double,
                assetPoints: Int, income: IncomeProcess.Parameters) {
        self.gamma = gamma; self.sigmaEps = sigmaEps; self.psiSlope = psiSlope; self.beta = beta
        self.phi = phi; self.amax = amax; self.assetPoints = assetPoints; self.income = income
    }
}

/// The countries and the frictions between them.
public struct World: Sendable, Equatable {
    public var names: [String]
    /// TFP A_i.
    public var tfp: [Double]
    /// Labour force L_i.
    public var labor: [Double]
    /// Iceberg costs d_ij, row-major (row = importer i, column = exporter j), d_ii = 1.
    public var tradeCosts: [Double]
    /// Ad-valorem tariffs t_ij, row-major; zero by default.
    public var tariffs: [Double]

    public init(names: [String], tfp: [Double], labor: [Double], tradeCosts: [Double], tariffs: [Double]? = nil) {
        self.names = names; self.tfp = tfp; self.labor = labor; self.tradeCosts = tradeCosts
        self.tariffs = tariffs ?? [Double](repeating: 0, count: names.count * names.count)
    }

    public var count: Int { names.count }
    public func tradeCost(importer i: Int, exporter j: Int) -> Double { tradeCosts[i * count + j] }
    public func tariff(importer i: Int, exporter j: Int) -> Double { tariffs[i * count + j] }
}

/// Prices at which the world is evaluated.
public struct Prices: Sendable, Equatable {
    /// Wages w_i (mean one under the usual normalisation).
    public var wages: [Double]
    /// Gross interest rates R_i (all equal under financial globalisation).
    public var rates: [Double]
    /// Discount factor β (a price-like unknown in the fixed-rate closure).
    public var beta: Double

    public init(wages: [Double], rates: [Double], beta: Double) {
        self.wages = wages; self.rates = rates; self.beta = beta
    }

    public var packed: [Double] { wages + rates + [beta] }
    public init(packed v: [Double], countries m: Int) {
        wages = Array(v[0..<m]); rates = Array(v[m..<(2 * m)]); beta = v[2 * m]
    }
}

/// Tolerances and limits of one world evaluation.
public struct EvaluationOptions: Sendable, Equatable {
    public var householdTolerance: Double
    public var distributionTolerance: Double
    public var householdMaxIterations: Int = 500
    public var distributionMaxIterations: Int = 5000
    /// Start each household and distribution from the previous evaluation's solution.
    public var warmStart: Bool = false

    public init(householdTolerance: Double, distributionTolerance: Double, warmStart: Bool = false) {
        self.householdTolerance = householdTolerance
        self.distributionTolerance = distributionTolerance
        self.warmStart = warmStart
    }
}

extension World {
    /// Buyer prices p_ij = (w_j / A_j) d_ij (1 + t_ij) faced by importer i (HAT-SPEC §1.1).
    public func buyerPrices(importer i: Int, wages: [Double]) -> [Double] {
        (0..<count).map { j in wages[j] / tfp[j] * tradeCost(importer: i, exporter: j) * (1 + tariff(importer: i, exporter: j)) }
    }

    /// Country i's household problem with the country scaling of HAT-SPEC §1.5.
    public func householdProblem(country i: Int, model: ModelParameters, income: IncomeProcess,
                                 prices: Prices) -> HouseholdProblem {
        let a = tfp[i]
        let scale = model.gamma == 1 ? 1 : pow(a, 1 - model.gamma)
        return HouseholdProblem(
            assets: assetGrid(points: model.assetPoints, borrowingLimit: model.phi, top: model.amax, tfp: a),
            income: income, gamma: model.gamma, beta: prices.beta, sigma: model.sigmaEps * scale,
            home: i, homeQuality: income.logPersistent.map { model.psiSlope * scale * $0 },
            prices: buyerPrices(importer: i, wages: prices.wages), wage: prices.wages[i], rate: prices.rates[i])
    }
}
