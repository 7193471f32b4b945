import Foundation
import HATModel

/// A trade-policy experiment of `hat counterfactual` (HAT-SPEC §6.5): a change of trade costs or tariffs
/// applied to a baseline world.
public enum TradeExperiment: Sendable, Equatable {
    /// d′_cj = f d_cj for every j ≠ c (the analysed country c cuts its import costs).
    case unilateral
    /// d′_ij = f d_ij for every pair i ≠ j.
    case global
    /// d′_cp = f d_cp for one partner p.
    case bilateral(partner: String)
    /// The analysed country levies an ad valorem tariff t on its imports from every partner (or from one),
    /// the revenue rebated lump sum, equally per capita, to its households (HAT-SPEC §4.3 (d)).
    case tariff(partner: String?)

    /// Parse `unilateral`, `global`, `bilateral:ISO`, `tariff` or `tariff:ISO`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        switch (parts[0].lowercased(), parts.count) {
        case ("unilateral", 1): self = .unilateral
        case ("global", 1): self = .global
        case ("bilateral", 2) where !parts[1].isEmpty: self = .bilateral(partner: parts[1])
        case ("tariff", 1): self = .tariff(partner: nil)
        case ("tariff", 2) where !parts[1].isEmpty: self = .tariff(partner: parts[1])
        default: return nil
        }
    }

    public var label: String {
        switch self {
        case .unilateral: return "unilateral"
        case .global: return "global"
        case let .bilateral(p): return "bilateral:\(p)"
        case let .tariff(p): return p.map { "tariff:\($0)" } ?? "tariff"
        }
    }

    public var isTariff: Bool { if case .tariff = self { return true } else { return false } }

    /// The same experiment with the partner spelled as in `world` (for labels and folder names); unchanged
    /// when the partner is unknown.
    public func canonical(in world: World) -> TradeExperiment { canonical(names: world.names) }

    public func canonical(names: [String]) -> TradeExperiment {
        guard let name = partner,
              let p = names.firstIndex(of: name) ?? names.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else { return self }
        switch self {
        case .bilateral: return .bilateral(partner: names[p])
        case .tariff: return .tariff(partner: names[p])
        default: return self
        }
    }

    /// The partner named by the experiment, if any.
    public var partner: String? {
        switch self {
        case let .bilateral(p): return p
        case let .tariff(p): return p
        default: return nil
        }
    }

    /// The (importer, exporter) pairs the experiment changes, for countries `names` and analysed country c:
    /// its imports from every partner (unilateral, tariff), every pair (global), or one (bilateral:ISO,
    /// tariff:ISO). Fails with a reason when a partner is unknown or is the country.
    public func changedPairs(names: [String], country c: Int) throws -> [(importer: Int, exporter: Int)] {
        let m = names.count
        var partnerIndex: Int?
        if let name = partner {
            guard let p = names.firstIndex(of: name) ?? names.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw AnalysisError("unknown partner \"\(name)\" (countries: \(names.joined(separator: ", ")))")
            }
            guard p != c else { throw AnalysisError("the partner \(name) is the analysed country itself") }
            partnerIndex = p
        }
        switch self {
        case .global:
            return (0..<m).flatMap { i in (0..<m).filter { $0 != i }.map { (importer: i, exporter: $0) } }
        case .unilateral, .bilateral, .tariff:
            return (0..<m).filter { $0 != c && (partnerIndex == nil || partnerIndex == $0) }.map { (importer: c, exporter: $0) }
        }
    }

    /// The new world: trade costs multiplied by `factor` (not floored again at 1, as the author's drivers do),
    /// or a tariff of rate `tariff` levied on top of any existing one: t′ = (1 + t)(1 + tariff) − 1. Fails with a reason when a partner is unknown or is the country.
    public func apply(to world: World, country c: Int, factor: Double, tariff: Double) throws -> World {
        let m = world.count
        var out = world
        for (i, j) in try changedPairs(names: world.names, country: c) {
            if isTariff {
                out.tariffs[i * m + j] = (1 + out.tariffs[i * m + j]) * (1 + tariff) - 1
            } else {
                out.tradeCosts[i * m + j] *= factor
            }
        }
        return out
    }
}
