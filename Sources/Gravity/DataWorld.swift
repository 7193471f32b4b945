import Foundation
import HATModel
import Solvers

/// The Eaton–Kortum world of HAT-SPEC §5: the data, the data's gravity moments, and the map from a parameter
/// vector Θ to a model `World` (§5.4–5.5). An outer calibration loop calls `world(for:)` with every new Θ and
/// `compare(tradeShares:)` on every model equilibrium; nothing here reads configuration or writes output.
public struct DataWorld: Sendable {
    public var directory: String
    public var data: EKData
    /// The gravity regression on the data (the calibration targets).
    public var dataFit: GravityFit

    public init(directory: String, data: EKData) throws {
        self.directory = directory
        self.data = data
        dataFit = try gravityRegression(y: data.logTradeRatios, pairs: data.pairs, countries: data.count)
    }

    public var countries: Int { data.count }

    /// The world at Θ: TFP A_i = exp(log A_i) and iceberg costs from the trade-cost function; labour from
    /// the data; no tariffs. Throws when Θ gives a TFP or a trade cost that is not a finite positive number.
    public func world(for parameters: TradeCostParameters) throws -> World {
        let m = data.count
        let tfp = parameters.tfp
        if let k = tfp.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw DataWorldError.tfp(country: k, logTFP: parameters.logTFP[k], tfp: tfp[k])
        }
        let costs = parameters.tradeCosts(pairs: data.pairs, countries: m)
        if let k = costs.firstIndex(where: { !($0 >= 1 && $0.isFinite) }) {
            throw DataWorldError.tradeCost(importer: data.countries[k / m], exporter: data.countries[k % m], value: costs[k])
        }
        return World(names: data.countries, tfp: tfp, labor: data.labor, tradeCosts: costs)
    }

    /// The model's gravity moments: the same regression on the model's trade shares (row = importer).
    public func modelFit(tradeShares: [[Double]]) throws -> GravityFit {
        let y = logTradeRatios(tradeShares: tradeShares.flatMap { $0 }, pairs: data.pairs, countries: data.count)
        return try gravityRegression(y: y, pairs: data.pairs, countries: data.count)
    }

    /// The model's moments next to the data's (HAT-SPEC §5.3, §10 item 6).
    public func compare(tradeShares: [[Double]]) throws -> GravityComparison {
        let model = try modelFit(tradeShares: tradeShares)
        return GravityComparison(data: dataFit, model: model,
                                 maxAbsGap: normInf(zip(model.moments.calibrationVector,
                                                        dataFit.moments.calibrationVector).map { $0 - $1 }))
    }
}

/// A parameter vector that does not give a usable world.
public enum DataWorldError: Error, Equatable {
    /// exp(log A) is not a finite positive number (`country` is 0-based).
    case tfp(country: Int, logTFP: Double, tfp: Double)
    /// A trade cost overflowed.
    case tradeCost(importer: String, exporter: String, value: Double)
}

/// The model's gravity moments next to the data's.
public struct GravityComparison: Sendable {
    public var data: GravityFit
    public var model: GravityFit
    /// max over the calibration moments (46 for 19 countries) of |model − data|.
    public var maxAbsGap: Double
}
