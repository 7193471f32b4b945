import Foundation
import HATConfig
import Output
import Runs
import Storage

/// The collected sweep: one row per point (sweep.csv, sweep.h5, sweep.json) and the point closest to the
/// targets (smallest Euclidean distance of the poor and median elasticities from theirs, converged points).
public struct SweepTable {
    public let records: [PointRecord]
    public let targets: SweepSpecification.Targets

    /// `target_distance` is measured from the current targets (a point's own file has the distance from the
    /// targets when it ran).
    public init(records: [PointRecord], targets: SweepSpecification.Targets) {
        self.targets = targets
        self.records = records.map { r in
            var r = r
            let dp = r["elasticity_poor"] - targets.poor, dm = r["elasticity_median"] - targets.median
            let d = (dp * dp + dm * dm).squareRoot()
            r.values["target_distance"] = d.isFinite ? d : nil
            return r
        }
    }

    public var best: PointRecord? {
        records.filter { $0.status == .converged && $0["target_distance"].isFinite }
            .min { ($0["target_distance"], $0.index) < ($1["target_distance"], $1.index) }
    }

    static let leading = ["index", "sigma_eps", "gamma", "psi_slope", "status"]
    static let trailing = ["start_from", "calibration", "reason"]
    static var header: [String] { leading + PointRecord.columns + trailing }

    /// Status codes of sweep.h5's `sweep/status_code`.
    static let statusCodes: [PointRecord.Status] = [.converged, .notConverged, .failed, .missing, .stopped]

    public func csv() -> String {
        var lines = [SweepTable.header.joined(separator: ",")]
        for r in records {
            var cells = ["\(r.index)", number(r.sigmaEps), number(r.gamma), number(r.psiSlope), r.status.rawValue]
            cells += PointRecord.columns.map { number(r[$0]) }
            cells += [r.startFrom, r.calibration, r.reason].map(quoted)
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Shortest round-trip form (bitwise on reading back); empty where not computed.
    func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "" }

    func quoted(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    public func json() -> JSON {
        var fields: [(String, JSON)] = [
            ("targets", .object([("poor", .number(targets.poor)), ("median", .number(targets.median)),
                                 ("home_share_gap", .number(targets.homeShareGap))])),
            ("points", .integer(records.count)),
            ("converged", .integer(records.filter { $0.status == .converged }.count)),
        ]
        if let best { fields.append(("best", .integer(best.index))) }      // absent when no point converged
        fields.append(("rows", .array(records.map { $0.json })))
        return .object(fields)
    }

    public func write(folder: String) throws {
        try writeAtomically(csv(), to: folder + "/sweep.csv")
        try writeAtomically(json().rendered() + "\n", to: folder + "/sweep.json")
        let path = folder + "/sweep.h5", temporary = folder + "/.sweep.h5.tmp-\(getpid())"
        do {
            let f = try HDF5File.create(temporary, communicator: nil)
            let n = records.count
            // No NaN in the file: a value that was not computed is written as 0 and marked 0 in sweep/computed.
            var computed: [Double] = []
            var names: [String] = []
            func column(_ name: String, _ values: [Double], _ description: String) throws {
                names.append(name)
                computed += values.map { $0.isFinite ? 1 : 0 }
                try f.writeShared("sweep/" + name, shape: [n], values: values.map { $0.isFinite ? $0 : 0 },
                                  attributes: ["description": description])
            }
            try column("index", records.map { Double($0.index) }, "point index (0-based, hat sweep --list)")
            try column("sigma_eps", records.map(\.sigmaEps), "taste-shock scale sigma_eps")
            try column("gamma", records.map(\.gamma), "CRRA gamma")
            try column("psi_slope", records.map(\.psiSlope), "home quality shifter slope psi (0 where sweep/computed says not computed)")
            try column("status_code", records.map { r in Double(SweepTable.statusCodes.firstIndex(of: r.status)!) },
                       "0 converged, 1 not-converged, 2 failed, 3 missing, 4 stopped")
            for c in PointRecord.columns {
                try column(c, records.map { $0[c] }, "see docs/SWEEPS-AND-SLURM.md (0 where sweep/computed says not computed)")
            }
            // computed[column][point]: 1 where the value was computed, in the order of the `columns` attribute.
            try f.writeShared("sweep/computed", shape: [names.count, n], values: computed,
                              attributes: ["description": "1 where sweep/<column> was computed, 0 where it holds a placeholder 0; rows in the order of the attribute columns"])
            try f.setAttribute("/sweep/computed", "columns", names.joined(separator: ","))
            try f.setAttribute("/", "kind", "hat sweep table")
            try f.setAttribute("/sweep", "status", records.map(\.status.rawValue).joined(separator: ","))
            try f.setAttribute("/sweep", "reasons", JSON.array(records.map { .string($0.reason) }).rendered())
            try f.setAttribute("/sweep", "best_index", best.map { "\($0.index)" } ?? "")
            try f.flush()
        }
        guard rename(temporary, path) == 0 else {
            throw OutputError(path: path, problem: "cannot rename: \(String(cString: strerror(errno)))")
        }
    }

    /// One human-readable line per point (`--collect`).
    public func line(_ r: PointRecord) -> String {
        let head = String(format: "%4d  sigma_eps %-9.6g gamma %-9.6g", r.index, r.sigmaEps, r.gamma)
        guard r.status == .converged else { return head + " \(r.status.rawValue): \(r.reason)" }
        var s = head + String(format: " poor %8.4f  median %8.4f  rich %8.4f  gap %9.5f", r["elasticity_poor"],
                              r["elasticity_median"], r["elasticity_rich"], r["home_share_gap"])
        if r.psiSlope.isFinite { s += String(format: "  psi %.6f", r.psiSlope) }
        return s
    }
}
