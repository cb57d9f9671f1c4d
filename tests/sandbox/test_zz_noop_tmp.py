def test_noop():
    pass
