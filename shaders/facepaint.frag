#version 330 core
// A texture laid out on the canonical face UVs. u_blend: 0 normal (alpha over),
// 1 multiply (blend func DST_COLOR, ZERO), 2 add (blend func SRC_ALPHA, ONE).
in vec2 v_uv;
uniform sampler2D u_texture;
uniform float u_opacity;
uniform int u_blend;
out vec4 f_color;

void main() {
    vec4 paint = texture(u_texture, v_uv);
    float alpha = paint.a * u_opacity;
    if (alpha <= 0.0) {
        discard;
    }
    if (u_blend == 1) {
        f_color = vec4(mix(vec3(1.0), paint.rgb, alpha), 1.0);
    } else {
        f_color = vec4(paint.rgb, alpha);
    }
}
