#version 330 core
// Face swap: another face's texture (captured in the canonical UV layout, alpha = its
// visibility times a feathered mask that leaves the target's eyes and mouth open) with its
// colour moved onto the target's skin: colour * u_gain + u_offset, per channel.
in vec2 v_uv;
uniform sampler2D u_texture;
uniform vec3 u_gain;
uniform vec3 u_offset;
uniform float u_opacity;
out vec4 f_color;

void main() {
    vec4 source = texture(u_texture, v_uv);
    float alpha = source.a * u_opacity;
    if (alpha <= 0.0) {
        discard;
    }
    f_color = vec4(clamp(source.rgb * u_gain + u_offset, 0.0, 1.0), alpha);
}
