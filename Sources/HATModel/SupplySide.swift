// The supply side of a world: how wages and demand become the prices households pay.

/// How goods are produced and priced, seen from the households: a map from wages (factor income per
/// efficiency unit) and, where prices depend on it, an importer's spending on each source to the buyer
/// prices p_ij its households face.
///
/// The rest of the model is the same for every supply side. All producer revenue is paid to households as
/// factor income per efficiency unit (wages under Armington and under free entry; wages and profits pro rata
/// under a fixed mass of firms), so country j's output is w_j N_j and its goods market clears when
/// Σ_i M_ij / (1 + t_ij) = w_j N_j. When prices depend on spending (`spendingElasticity` > 0), each
/// importer's prices and its households' spending are a fixed point the evaluator solves inside every
/// country evaluation; the prices it found travel with the outcome (`Prices.buyerPrices`).
public protocol SupplySide: Sendable {
    /// The name outputs record ("armington", "melitz").
    var name: String { get }
    /// θ ≥ 0 in log p_ij = (terms in wages and costs) − θ log X_ij: how a source's buyer price in importer i
    /// falls with i's spending X_ij on it (a scale economy). 0: prices do not depend on spending.
    var spendingElasticity: Double { get }
    /// Buyer prices p_ij of importer i for every source j at `wages`. `spending` is importer i's spending
    /// X_ij at buyer prices on every source, required when `spendingElasticity` > 0 and ignored otherwise.
    func buyerPrices(world: World, importer i: Int, wages: [Double], spending: [Double]?) -> [Double]
    /// Whether output is linear in labour, Q_j = A_j L_j: the efficient allocation (`Planner`) needs it.
    var isLinearInLabour: Bool { get }
    /// Whether `other` is the same supply side with the same parameters.
    func isEqual(to other: any SupplySide) -> Bool
    /// What the supply side adds to the outputs at an equilibrium with `prices` (buyer prices included when
    /// they depend on spending) and every importer's spending on every source (row = importer); nil: nothing.
    func report(world: World, prices: Prices, spending: [[Double]]) -> SupplyReport?
    /// The supply side's parameters, as outputs record them (a baseline must have the same to be reused).
    var parameters: [(name: String, value: SupplyReport.Value)] { get }
}

extension SupplySide where Self: Equatable {
    public func isEqual(to other: any SupplySide) -> Bool { (other as? Self) == self }
}

/// Armington supply (HAT-SPEC §1.1): country j produces its variety with Q_j = A_j L_j under perfect
/// competition, so p_ij = (w_j / A_j) d_ij (1 + t_ij) whatever is demanded.
public struct ArmingtonSupply: SupplySide, Equatable {
    public init() {}
    public var name: String { "armington" }
    public var spendingElasticity: Double { 0 }
    public var isLinearInLabour: Bool { true }
    public func buyerPrices(world: World, importer i: Int, wages: [Double], spending: [Double]?) -> [Double] {
        (0..<world.count).map { j in
            wages[j] / world.tfp[j] * world.tradeCost(importer: i, exporter: j) * (1 + world.tariff(importer: i, exporter: j))
        }
    }
}

/// What a supply side reports about an equilibrium beyond HAT's objects (`SupplySide.report`): named
/// numbers for the outputs, the model conditions that fail there, and notes for the log.
public struct SupplyReport: Sendable {
    public indirect enum Value: Sendable, Equatable {
        case number(Double), numbers([Double]), matrix([[Double]]), object([Field])
    }
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: Value
        public init(_ name: String, _ value: Value) { self.name = name; self.value = value }
    }
    public var fields: [(name: String, value: Value)]
    /// Conditions of the supply side's model that fail at this equilibrium, one line each, with the key
    /// they are about: the solve is then not an equilibrium of the model (an error, nothing written).
    public var failedConditions: [(key: String, problem: String)]
    /// Facts worth a log line that do not invalidate the equilibrium.
    public var notes: [String]

    public init(fields: [(name: String, value: Value)], failedConditions: [(key: String, problem: String)] = [],
                notes: [String] = []) {
        self.fields = fields; self.failedConditions = failedConditions; self.notes = notes
    }
}

extension SupplySide {
    /// Nothing beyond HAT's objects.
    public func report(world: World, prices: Prices, spending: [[Double]]) -> SupplyReport? { nil }
    /// None beyond the world's.
    public var parameters: [(name: String, value: SupplyReport.Value)] { [] }
}
