from tests.integration.harness import World, consumer_object, hydrate, put_object


def test_one_object_round_trip(world: World) -> None:
    put_object(
        world, "data/a.txt", b"hello", ContentType="text/plain", Metadata={"owner": "ops"}, Tagging="team=x"
    )
    result = hydrate(world)
    got = consumer_object(world, "data/a.txt")
    assert got["body"] == b"hello"
    assert got["head"]["ContentType"] == "text/plain"
    assert got["head"]["Metadata"] == {"owner": "ops"}
    assert got["head"]["SSEKMSKeyId"] == world.kms_key_arn
    assert got["tags"] == {"team": "x"}
    assert result["status"] == "COMPLETED"
