import Equilibrium
import Gravity
import HATConfig

/// The model's gravity moments next to the data's (HAT-SPEC §5.3, §10 item 6).
public struct GravityComparison: Sendable {
    public var data: GravityFit
    public var model: GravityFit
    /// max over the 46 calibration moments of |model − data|.
    public var maxAbsGap: Double
}

/// Run the gravity regression on the model's trade shares (row = importer) when the world comes from data.
public func gravityComparison(config: RunConfiguration, tradeShares: [[Double]]) throws -> GravityComparison? {
    guard let dw = config.dataWorld else { return nil }
    let m = dw.data.count
    let y = logTradeRatios(tradeShares: tradeShares.flatMap { $0 }, pairs: dw.data.pairs, countries: m)
    let model = try gravityRegression(y: y, pairs: dw.data.pairs, countries: m)
    let gap = zip(model.moments.calibrationVector, dw.dataFit.moments.calibrationVector).map { abs($0 - $1) }.max() ?? 0
    return GravityComparison(data: dw.dataFit, model: model, maxAbsGap: gap)
}

/// JSON of one set of gravity objects, labelled by country.
public func gravityJSON(_ fit: GravityFit, countries: [String], standardErrors: Bool = false) -> JSON {
    func block(_ g: GravityMoments) -> [(String, JSON)] {
        [("distance", .numbers(g.distance)),
         ("dummies", .object(zip(GravityMoments.dummyNames, g.dummies).map { ($0, JSON.number($1)) })),
         ("S", .object(zip(countries, g.S).map { ($0, JSON.number($1)) })),
         ("theta_m", .object(zip(countries, g.thetaM).map { ($0, JSON.number($1)) }))]
    }
    var fields = block(fit.moments)
    fields.append(("r_squared", .number(fit.rSquared)))
    fields.append(("ssr", .number(fit.sumOfSquaredResiduals)))
    fields.append(("observations", .integer(fit.observations)))
    if standardErrors { fields.append(("standard_errors", .object(block(fit.standardErrors)))) }
    return .object(fields)
}
