import SkiffCommon
import Testing

@testable import RuntimeCore

/// The user a container runs as, from the CRI security context or the image's `User`, through
/// the image's own /etc/passwd and /etc/group (the rules of containerd and cri-o).
@Suite struct UserResolverTests {
    static let resolver = UserResolver(
        passwd: """
            root:x:0:0:root:/root:/bin/sh
            app:x:1000:1000:App:/home/app:/bin/sh
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
            broken line without fields
            odd:x:notanumber:1:odd:/:/bin/sh
            """,
        group: """
            root:x:0:
            wheel:x:10:app,root
            app:x:1000:
            video:x:44:app
            staff:x:50:
            """
    )

    static func resolve(
        user: Int64? = nil,
        name: String = "",
        group: Int64? = nil,
        image: String = "",
        supplemental: [Int64] = []
    )
        throws(SkiffError) -> UserResolver.Resolved
    {
        try resolver.resolve(
            runAsUser: user,
            runAsUsername: name,
            runAsGroup: group,
            imageUser: image,
            supplementalGroups: supplemental
        )
    }

    @Test func nothingSetIsRootWithRootsGroupsAndHome() throws {
        #expect(try Self.resolve() == .init(uid: 0, gid: 0, additionalGids: [10], home: "/root"))
    }

    @Test(
        arguments: [
            // image User → uid, gid, additional gids (the groups naming the user), home
            ("app", 1000, 1000, [10, 44], "/home/app"),
            ("1000", 1000, 1000, [10, 44], "/home/app"),
            ("app:staff", 1000, 50, [10, 44], "/home/app"),
            ("app:44", 1000, 44, [10], "/home/app"),
            ("4242", 4242, 0, [], nil),
            ("4242:4243", 4242, 4243, [], nil),
            ("nobody:", 65534, 65534, [], "/nonexistent"),
        ] as [(String, UInt32, UInt32, [UInt32], String?)]
    )
    func theImagesUserIsResolvedInTheImage(
        image: String,
        uid: UInt32,
        gid: UInt32,
        additional: [UInt32],
        home: String?
    ) throws {
        #expect(try Self.resolve(image: image) == .init(uid: uid, gid: gid, additionalGids: additional, home: home))
    }

    @Test func theSecurityContextWinsOverTheImage() throws {
        #expect(try Self.resolve(user: 1000, image: "nobody").uid == 1000)
        #expect(try Self.resolve(user: 1000, group: 7, image: "nobody:staff").gid == 7)
        #expect(try Self.resolve(name: "app", image: "root").uid == 1000)
        let withGroups = try Self.resolve(user: 1000, supplemental: [44, 2000, 1000, 2000])
        #expect(withGroups.additionalGids == [10, 44, 2000], "the primary gid and repeats are left out")
    }

    /// SupplementalGroupsPolicy: Merge (the default) adds the user's groups from the image's
    /// /etc/group to the listed ones; Strict gives only the listed ones.
    @Test func strictSupplementalGroupsLeaveOutTheImagesGroups() throws {
        let merged = try Self.resolver.resolve(
            runAsUser: 1000,
            runAsUsername: "",
            runAsGroup: nil,
            imageUser: "",
            supplementalGroups: [1234]
        )
        #expect(merged.additionalGids == [10, 44, 1234])
        let strict = try Self.resolver.resolve(
            runAsUser: 1000,
            runAsUsername: "",
            runAsGroup: nil,
            imageUser: "",
            supplementalGroups: [1234],
            strictSupplementalGroups: true
        )
        #expect(strict == .init(uid: 1000, gid: 1000, additionalGids: [1234], home: "/home/app"))
    }

    @Test(
        arguments: [
            (nil, "", 5, "run_as_group is set without run_as_user"),
            (-1, "", nil, "run_as_user -1 is not a valid uid"),
            (Int64(UInt32.max) + 1, "", nil, "is not a valid uid"),
            (nil, "ghost", nil, "user \"ghost\" is not in the image's /etc/passwd"),
            (0, "", -5, "run_as_group -5 is not a valid gid"),
        ] as [(Int64?, String, Int64?, String)]
    )
    func impossibleUsersAreRefusedByName(user: Int64?, name: String, group: Int64?, complaint: String) {
        let error = #expect(throws: SkiffError.self) { try Self.resolve(user: user, name: name, group: group) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(complaint) == true, "\(String(describing: error))")
    }

    @Test func anUnknownGroupNameOrSupplementalGroupIsRefused() {
        let group = #expect(throws: SkiffError.self) { try Self.resolve(image: "app:ghosts") }
        #expect(group?.message.contains("group \"ghosts\" is not in the image's /etc/group") == true)
        let supplemental = #expect(throws: SkiffError.self) { try Self.resolve(supplemental: [-3]) }
        #expect(supplemental?.message.contains("supplemental group -3") == true)
    }

    @Test func anImageWithoutPasswdRunsNumericUsersOnly() throws {
        let bare = UserResolver(passwd: "", group: "")
        #expect(
            try bare.resolve(runAsUser: nil, runAsUsername: "", runAsGroup: nil, imageUser: "", supplementalGroups: [])
                == .init(uid: 0, gid: 0, additionalGids: [], home: nil)
        )
        #expect(
            try bare.resolve(runAsUser: 33, runAsUsername: "", runAsGroup: nil, imageUser: "", supplementalGroups: [])
                .uid == 33
        )
        #expect(throws: SkiffError.self) {
            try bare.resolve(
                runAsUser: nil,
                runAsUsername: "www",
                runAsGroup: nil,
                imageUser: "",
                supplementalGroups: []
            )
        }
    }
}
