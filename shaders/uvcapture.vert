#version 330 core
// Face texture capture: the face mesh drawn in its canonical UV layout (v from the top of the
// image, so the read-back rows come out top row first), each vertex carrying where it lies in
// the frame (u_frame texture coordinates) and how squarely it faces the camera.
in vec2 in_uv;
in vec2 in_frame_uv;
in float in_visible;
out vec2 v_frame_uv;
out float v_visible;

void main() {
    v_frame_uv = in_frame_uv;
    v_visible = in_visible;
    gl_Position = vec4(in_uv * 2.0 - 1.0, 0.0, 1.0);
}
