import Foundation
import Output

/// One row of the sweep table (`point.json`): where the point is, how it ended, and its household statistics.
public struct PointRecord {
    public enum Status: String, Sendable { case converged, notConverged = "not-converged", failed, stopped, missing }

    public var index: Int
    public var sigmaEps: Double
    public var gamma: Double
    public var psiSlope: Double = .nan
    public var status: Status
    public var reason: String
    /// The numeric columns, in `PointRecord.columns` order (NaN where not computed).
    public var values: [String: Double] = [:]
    /// "base" or the folder (relative to the sweep folder) whose calibration started this one.
    public var startFrom = ""
    /// The folder (relative to the sweep folder) of the calibration the statistics belong to.
    public var calibration = ""

    /// The numeric columns of the table, after index, sigma_eps, gamma, psi_slope.
    public static let columns: [String] = [
        "elasticity_poor", "elasticity_median", "elasticity_rich",
        "home_share_poor", "home_share_median", "home_share_rich", "home_share_gap",
        "aggregate_elasticity",
        "quintile_elasticity_1", "quintile_elasticity_2", "quintile_elasticity_3", "quintile_elasticity_4", "quintile_elasticity_5",
        "quintile_import_share_1", "quintile_import_share_2", "quintile_import_share_3", "quintile_import_share_4", "quintile_import_share_5",
        "beta", "max_abs_gap", "outer_iterations", "psi_iterations", "target_distance", "wall_seconds",
    ]

    public subscript(_ name: String) -> Double { values[name] ?? .nan }

    public var json: JSON {
        // Only what was computed: a failed point has no psi_slope (never a null in place of a number).
        var fields: [(String, JSON)] = [("index", .integer(index)), ("sigma_eps", .number(sigmaEps)), ("gamma", .number(gamma))]
        if psiSlope.isFinite { fields.append(("psi_slope", .number(psiSlope))) }
        fields += [("status", .string(status.rawValue)), ("reason", .string(reason))]
        for c in PointRecord.columns where self[c].isFinite { fields.append((c, .number(self[c]))) }
        fields.append(("start_from", .string(startFrom)))
        fields.append(("calibration", .string(calibration)))
        return .object(fields)
    }

    public init(index: Int, sigmaEps: Double, gamma: Double, status: Status, reason: String) {
        self.index = index; self.sigmaEps = sigmaEps; self.gamma = gamma; self.status = status; self.reason = reason
    }

    public init(json: JSON) throws {
        guard let i = json["index"]?.double, let s = json["sigma_eps"]?.double, let g = json["gamma"]?.double,
              let st = json["status"]?.string.flatMap(Status.init(rawValue:)), let r = json["reason"]?.string else {
            throw OutputError(path: "point.json", problem: "not a sweep point record")
        }
        self.init(index: Int(i), sigmaEps: s, gamma: g, status: st, reason: r)
        psiSlope = json["psi_slope"]?.double ?? .nan
        for c in PointRecord.columns { if let v = json[c]?.double { values[c] = v } }
        startFrom = json["start_from"]?.string ?? ""
        calibration = json["calibration"]?.string ?? ""
    }

    public static func read(_ path: String) -> PointRecord? {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let json = try? JSON.parse(text) else { return nil }
        return try? PointRecord(json: json)
    }

    /// Finished: converged, not converged or failed (a stopped point is resumed, a missing one started).
    public var finished: Bool { status == .converged || status == .notConverged || status == .failed }
}
