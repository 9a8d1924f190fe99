#version 330 core
// A straight-alpha sprite image faded by u_alpha; the renderer's alpha blend puts it over.
in vec2 v_uv;
uniform sampler2D u_sprite;
uniform float u_alpha;
out vec4 f_color;

void main() {
    vec4 colour = texture(u_sprite, v_uv);
    f_color = vec4(colour.rgb, colour.a * u_alpha);
}
