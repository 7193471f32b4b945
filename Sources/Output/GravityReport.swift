import Gravity

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
