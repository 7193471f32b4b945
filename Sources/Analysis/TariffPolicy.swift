import Foundation

/// A social welfare function of the analysed country's households' equivalent variation (`hat policy
/// --objective`): the population mean of λ, or the mean of λ in one expenditure quintile.
public enum PolicyObjective: Sendable, Equatable, Hashable {
    case utilitarian
    /// The mean λ of expenditure quintile K (1 the poorest, 5 the richest).
    case quintile(Int)

    /// `utilitarian`, `bottom-quintile` (quintile 1) or `quintile:K` with K in 1…5.
    public init?(_ text: String) {
        switch text {
        case "utilitarian": self = .utilitarian
        case "bottom-quintile": self = .quintile(1)
        default:
            guard text.hasPrefix("quintile:"), let k = Int(text.dropFirst("quintile:".count)), (1...5).contains(k) else { return nil }
            self = .quintile(k)
        }
    }

    public var label: String {
        switch self {
        case .utilitarian: return "utilitarian"
        case .quintile(1): return "bottom-quintile"
        case let .quintile(k): return "quintile:\(k)"
        }
    }

    /// Every objective, for the welfare curves recorded whichever is optimised.
    public static let all: [PolicyObjective] = [.utilitarian] + (1...5).map { .quintile($0) }

    /// W of a vector of multipliers λ (`[shock][asset]`), weighted by the baseline distribution and grouped by
    /// baseline expenditure as every other quintile output.
    public func value(multipliers: [Double], household: AnalysedHousehold) -> Double {
        switch self {
        case .utilitarian:
            var total = 0.0, mass = 0.0
            for k in multipliers.indices { total += household.masses[k] * multipliers[k]; mass += household.masses[k] }
            return total / mass
        case let .quintile(k):
            return CrossSection(household, welfare: multipliers).quintiles()[k - 1].welfare!
        }
    }
}

/// The maximum of a scalar function on [lower, upper] (Brent's method: golden sections with parabolic
/// steps), started from the best point of a grid and its neighbours as the bracket. Deterministic: the
/// points it asks for depend only on the values it is given.
public struct ScalarMaximum: Sendable {
    public var x: Double
    public var value: Double
    /// The last bracket [a, b] of the maximum.
    public var bracket: (Double, Double)
    public var evaluations: Int

    /// `f` may throw (a candidate that cannot be evaluated stops the search).
    public static func find(lower: Double, upper: Double, start x0: Double, value f0: Double, tolerance: Double,
                            maxEvaluations: Int = 60, _ f: (Double) throws -> Double) rethrows -> ScalarMaximum {
        // Minimise g = −f.
        let golden = 0.3819660112501051
        var a = lower, b = upper
        var x = x0, w = x0, v = x0
        var gx = -f0, gw = -f0, gv = -f0
        var d = 0.0, e = 0.0
        var evaluations = 0
        while evaluations < maxEvaluations {
            let m = 0.5 * (a + b)
            let tol1 = tolerance, tol2 = 2 * tol1
            if abs(x - m) <= tol2 - 0.5 * (b - a) { break }
            var useGolden = true
            if abs(e) > tol1 {
                // Parabola through x, w, v.
                let r = (x - w) * (gx - gv)
                var q = (x - v) * (gx - gw)
                var p = (x - v) * q - (x - w) * r
                q = 2 * (q - r)
                if q > 0 { p = -p } else { q = -q }
                let previous = e
                e = d
                if abs(p) < abs(0.5 * q * previous) && p > q * (a - x) && p < q * (b - x) {
                    d = p / q
                    let u = x + d
                    if u - a < tol2 || b - u < tol2 { d = m > x ? tol1 : -tol1 }
                    useGolden = false
                }
            }
            if useGolden {
                e = x >= m ? a - x : b - x
                d = golden * e
            }
            let u = abs(d) >= tol1 ? x + d : x + (d > 0 ? tol1 : -tol1)
            let gu = -(try f(u))
            evaluations += 1
            if gu <= gx {
                if u >= x { a = x } else { b = x }
                v = w; gv = gw; w = x; gw = gx; x = u; gx = gu
            } else {
                if u < x { a = u } else { b = u }
                if gu <= gw || w == x {
                    v = w; gv = gw; w = u; gw = gu
                } else if gu <= gv || v == x || v == w {
                    v = u; gv = gu
                }
            }
        }
        return ScalarMaximum(x: x, value: -gx, bracket: (a, b), evaluations: evaluations)
    }
}
