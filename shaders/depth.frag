#version 330 core
// Depth as a grey ramp: u_range.x (the face's nearest point) white, u_range.y (its farthest) dark.
in float v_depth;
uniform vec2 u_range;
uniform float u_opacity;
out vec4 f_color;

void main() {
    float t = clamp((u_range.y - v_depth) / max(u_range.y - u_range.x, 1e-3), 0.0, 1.0);
    f_color = vec4(vec3(mix(0.12, 1.0, t)), u_opacity);
}
