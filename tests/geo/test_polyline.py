import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import polyline

# Google's documented example, in the 5-decimal precision it was published with.
GOOGLE = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
GOOGLE_COORDS = [(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]


def test_decodes_googles_documented_example() -> None:
    assert polyline.decode(GOOGLE, precision=5) == GOOGLE_COORDS
    assert polyline.encode(GOOGLE_COORDS, precision=5) == GOOGLE


@given(
    st.lists(
        st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False)), max_size=30
    )
)
def test_encoding_then_decoding_keeps_six_decimals(coords: list[tuple[float, float]]) -> None:
    decoded = polyline.decode(polyline.encode(coords, precision=6), precision=6)
    assert decoded == [pytest.approx(xy, abs=6e-7) for xy in coords]


@pytest.mark.parametrize("text", ["_p~iF~ps|U_ulL", "_p~iF~ps|U_", "abc\x7f"])
def test_a_truncated_or_foreign_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an encoded polyline"):
        polyline.decode(text)
