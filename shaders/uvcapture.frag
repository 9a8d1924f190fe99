#version 330 core
// The frame's colour at the mesh point, alpha = its visibility (0: turned away or hidden).
in vec2 v_frame_uv;
in float v_visible;
uniform sampler2D u_frame;
out vec4 f_color;

void main() {
    f_color = vec4(texture(u_frame, v_frame_uv).rgb, clamp(v_visible, 0.0, 1.0));
}
